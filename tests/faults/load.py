"""A steady load of comments through intake's HTTP API, with every answer it got on record.

Half of the comments carry an ``Idempotency-Key`` and are retried after a 503 as a well-behaved
client would (after ``Retry-After``, with the same key) until intake accepts them; the other half
are sent once without a key, so a 503 for something that was stored after all would show up as a
comment no one was told had been accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

# Ordinary, civil opinions in three languages: moderation approves them on its own, and the mix
# of phrases keeps them apart from one another (no form-letter clustering).
_OPENINGS = (
    "אני תומכת בהצעה",
    "אני מתנגד לסעיף השלישי",
    "أؤيد هذا الاقتراح",
    "لدي ملاحظة على البند الثاني",
    "I support the proposal",
    "I have a concern about section two",
)
_TOPICS = (
    "bus lines in the Negev",
    "night trains to the north",
    "bicycle lanes in Beer Sheva",
    "school transport in the villages",
    "parking near the hospital",
    "fares for students",
    "accessible stations",
    "the timetable on Fridays",
)
_DETAILS = (
    "the service should start earlier in the morning",
    "please publish the data you used",
    "the consultation period is too short",
    "residents of the periphery need more frequent lines",
    "the plan ignores people who work shifts",
    "it would help to hear from drivers too",
    "the budget should be spread over five years",
    "small towns deserve a direct connection",
)


def comment_text(rng: random.Random, serial: int) -> str:
    words = rng.sample(_DETAILS, 3)
    return (
        f"{rng.choice(_OPENINGS)} about {rng.choice(_TOPICS)}: {words[0]}; {words[1]}, "
        f"and {words[2]}. (note {serial}, {secrets.token_hex(3)})"
    )


@dataclass(frozen=True, slots=True)
class Author:
    """A participant at an address of their own (intake trusts the loopback proxy's
    X-Forwarded-For in these tests), so moderation sees people, not one bot behind 127.0.0.1."""

    participant_id: str
    token: str
    address: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Forwarded-For": self.address}


_addresses = itertools.count(1)
PER_AUTHOR = 5
"""Comments per author at most: moderation holds a sender's seventh in five minutes for a person."""


async def register(http: httpx.AsyncClient, intake_url: str) -> Author | None:
    """A new participant (``POST /v1/participants``) at an address of their own; None when
    intake cannot register anyone right now (the bus is away)."""
    try:
        response = await http.post(f"{intake_url}/v1/participants", json={})
    except httpx.HTTPError:
        return None
    if response.status_code != 201:
        return None
    body = response.json()
    n = next(_addresses)
    return Author(body["participant_id"], body["token"], f"10.{n // 250 % 250}.{n % 250}.7")


@dataclass(frozen=True, slots=True)
class Answer:
    """One response intake gave (or the error in its place), as the client saw it."""

    started: float
    status: int
    """0: no HTTP answer at all (connection refused, timeout)."""
    keyed: bool
    text: str = ""
    comment_id: str | None = None
    retry_after: str | None = None
    content_type: str = ""
    problem: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class CommentLoad:
    """Posts comments to one campaign at ``rate`` per second from ``workers`` concurrent clients.

    Each author writes ``PER_AUTHOR`` comments at most; when all have had their share, new ones
    are registered (give enough for the time the bus may be away).
    """

    http: httpx.AsyncClient
    intake_url: str
    campaign_id: str
    authors: list[Author]
    rate: float = 30.0
    workers: int = 12
    retry_for: float = 90.0
    """How long a keyed comment is retried after 503s before the client gives up on it."""
    seed: int = 9
    answers: list[Answer] = field(default_factory=list)
    accepted: dict[str, Author] = field(default_factory=dict)
    """Every comment id intake answered 202 for, with its author."""
    abandoned: int = 0
    """Keyed comments given up after ``retry_for`` (none, if the bus came back in time)."""
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _serials: itertools.count[int] = field(default_factory=itertools.count)

    def start(self) -> CommentLoad:
        self._stopping.clear()
        self._tasks = [
            asyncio.create_task(self._client(n), name=f"load-{n}") for n in range(self.workers)
        ]
        return self

    async def stop(self) -> None:
        """No new comments; the keyed ones in hand are still retried until accepted."""
        self._stopping.set()
        await asyncio.gather(*self._tasks)

    def __str__(self) -> str:
        return (
            f"{len(self.answers)} answers {dict(self.statuses)}, {len(self.accepted)} accepted, "
            f"{len(self.authors)} authors, {self.abandoned} abandoned"
        )

    @property
    def statuses(self) -> Counter[int]:
        return Counter(answer.status for answer in self.answers)

    def answers_between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.answers if start <= a.started <= end]

    async def _client(self, worker: int) -> None:
        rng = random.Random(self.seed * 1000 + worker)
        loop = asyncio.get_running_loop()
        interval = self.workers / self.rate
        next_at = loop.time() + rng.uniform(0, interval)
        while not self._stopping.is_set():
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            # never a burst to catch up after a slow answer: a steady offered load
            next_at = max(next_at + interval, loop.time())
            serial = next(self._serials)
            author = await self._author(serial)
            if author is None:
                continue  # every author had their share, and no one can register now
            text = comment_text(rng, serial)
            if serial % 2 == 0:
                await self._post_keyed(author, text)
            else:
                await self._post(author, text, key=None)

    async def _author(self, serial: int) -> Author | None:
        while serial // PER_AUTHOR >= len(self.authors):
            author = await register(self.http, self.intake_url)
            if author is None:
                return None
            self.authors.append(author)
        return self.authors[serial // PER_AUTHOR]

    async def _post_keyed(self, author: Author, text: str) -> None:
        key = secrets.token_hex(12)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.retry_for
        while True:
            answer = await self._post(author, text, key=key)
            if answer.status == 202:
                return
            if answer.status not in (0, 503, 429) or loop.time() > give_up:
                self.abandoned += 1
                return
            await asyncio.sleep(min(float(answer.retry_after or 1), 2.0))

    async def _post(self, author: Author, text: str, *, key: str | None) -> Answer:
        headers = author.headers
        if key is not None:
            headers = {**headers, "Idempotency-Key": key}
        started = asyncio.get_running_loop().time()
        try:
            response = await self.http.post(
                f"{self.intake_url}/v1/campaigns/{self.campaign_id}/comments",
                json={"text": text},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            answer = Answer(started, 0, key is not None, text, error=repr(exc))
            self.answers.append(answer)
            return answer
        body: Any = None
        with contextlib.suppress(ValueError):
            body = response.json()
        content_type = response.headers.get("content-type", "")
        comment_id = None
        if response.status_code == 202 and isinstance(body, dict):
            comment_id = body.get("id")
            if isinstance(comment_id, str):
                self.accepted[comment_id] = author
        answer = Answer(
            started,
            response.status_code,
            key is not None,
            text,
            comment_id=comment_id,
            retry_after=response.headers.get("retry-after"),
            content_type=content_type,
            problem=body if "problem+json" in content_type and isinstance(body, dict) else None,
        )
        self.answers.append(answer)
        return answer
