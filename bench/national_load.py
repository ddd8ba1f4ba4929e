"""The national bench's load generator: one process per instance, uvloop, raw HTTP/1.1 over
keep-alive connections (a Python HTTP client costs more CPU per request than intake does, and
would be the bottleneck on a 2-core machine).

A worker first registers its share of the participants (``POST /v1/participants``, as fast as
its connections go), then posts its share of the comments on the arrival curve: request ``k`` of
``n`` is released at ``T * F^-1(k / n)``, where ``F`` is the curve's cumulative share. Every
comment carries an ``Idempotency-Key``; a 503 or 429 is retried after ``Retry-After`` with the
same key and body, a lost connection too, as a careful client does, so a retry never makes a
second comment. What it reports: the ids intake accepted with the wall-clock time of the answer,
the latency of every answered request, and its counters (shared memory, read by the parent).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import os
import random
import re
import time
from array import array
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from national_corpus import Corpus

# counters[worker * SLOTS + slot]
SLOTS = 8
REGISTERED, SENT, ACCEPTED, RETRIED, FAILED, DONE, CPU, UNAVAILABLE = range(SLOTS)

NAT_SHARE = 0.03
NAT_ADDRESSES = 20
DEBUG = bool(os.environ.get("KOLOT_BENCH_DEBUG"))
SOURCES = ("facebook", "whatsapp", "newsletter", "news-site", "sms", "direct")

# shape of the flash crowd over the run's normalised time u in [0, 1] (piecewise, in units of
# the base rate): a ramp as the news spreads, the base, a spike at several times the base when a
# campaign goes viral, its decay, then the long tail at the base rate
CURVE = (
    (0.00, 0.2),
    (0.10, 1.0),
    (0.30, 1.0),
    (0.32, None),  # the spike's height, given by --spike
    (0.42, None),
    (0.60, 1.0),
    (1.00, 1.0),
)


def curve_points(spike: float) -> list[tuple[float, float]]:
    return [(u, spike if level is None else level) for u, level in CURVE]


def shape_at(u: float, points: list[tuple[float, float]]) -> float:
    for (u0, y0), (u1, y1) in itertools.pairwise(points):
        if u <= u1:
            return y0 + (y1 - y0) * (u - u0) / (u1 - u0) if u1 > u0 else y1
    return points[-1][1]


def cumulative(spike: float, steps: int = 2000) -> tuple[list[float], float]:
    """F sampled at ``steps + 1`` points of u, and the mean of the shape (base rate units)."""
    points = curve_points(spike)
    area = [0.0]
    for i in range(steps):
        a, b = shape_at(i / steps, points), shape_at((i + 1) / steps, points)
        area.append(area[-1] + (a + b) / 2 / steps)
    total = area[-1]
    return [x / total for x in area], total


@dataclass
class Plan:
    worker: int
    workers: int
    urls: list[str]
    campaigns: list[str]
    campaign_weights: list[float]
    participants: int
    """How many this worker registers."""
    comments: int
    """How many comments in all (every worker); this one sends every ``workers``-th."""
    seconds: float
    """The arrival curve's length."""
    spike: float
    connections: int
    seed: int
    out_dir: str
    form_share: float
    abusive_share: float


_ID = re.compile(rb'"id"\s*:\s*"([^"]+)"')
_TOKEN = re.compile(rb'"token"\s*:\s*"([^"]+)"')
_RETRY_AFTER = re.compile(rb"\r\nretry-after:\s*(\d+)", re.IGNORECASE)
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class Job:
    __slots__ = ("attempt", "body", "campaign", "forwarded", "head", "index", "kind")

    def __init__(
        self,
        index: int,
        kind: str,
        head: bytes,
        body: bytes,
        campaign: int,
        forwarded: bytes = b"",
    ) -> None:
        self.index = index
        self.kind = kind
        self.head = head
        self.body = body
        self.campaign = campaign
        self.forwarded = forwarded
        self.attempt = 0


def run(plan: Plan, counters: Any) -> None:
    import uvloop

    uvloop.run(_main(plan, counters))


async def _main(plan: Plan, counters: Any) -> None:
    loop = asyncio.get_running_loop()
    base = plan.worker * SLOTS
    rng = random.Random(plan.seed * 1000 + plan.worker)
    corpus = Corpus(form_share=plan.form_share, abusive_share=plan.abusive_share)
    out = Path(plan.out_dir)
    hosts = [re.match(r"http://([^:/]+):(\d+)", u).groups() for u in plan.urls]  # type: ignore[union-attr]

    tokens: list[tuple[bytes, bytes]] = []
    accepted = (out / f"accepted-{plan.worker}.tsv").open("w")
    latencies = array("f")
    kinds: dict[str, int] = {}
    statuses: dict[int, int] = {}
    retry: deque[tuple[float, Job]] = deque()
    phase = {"now": "register"}
    state = {"issued": 0, "released": 0, "inflight": 0}
    my_comments = len(range(plan.worker, plan.comments, plan.workers))
    fractions, _ = cumulative(plan.spike)
    steps = len(fractions) - 1
    idle: list[Connection] = []
    finished = loop.create_future()

    def address(index: int) -> str:
        # each participant behind an address of its own, a few behind a mobile carrier's NAT
        if rng.random() < NAT_SHARE:
            return f"100.64.0.{rng.randrange(NAT_ADDRESSES)}"
        return f"10.{plan.worker * 4 + (index >> 16)}.{(index >> 8) & 255}.{index & 255}"

    def register_job(index: int) -> Job:
        body = json.dumps({"source": rng.choice(SOURCES)}).encode()
        forwarded = f"X-Forwarded-For: {address(index)}\r\n"
        head = f"POST /v1/participants HTTP/1.1\r\n{forwarded}".encode()
        return Job(index, "participant", head, body, -1, forwarded.encode())

    def comment_job(index: int) -> Job:
        campaign = rng.choices(range(len(plan.campaigns)), plan.campaign_weights)[0]
        drawn = corpus.draw(rng, campaign)
        kinds[drawn.kind] = kinds.get(drawn.kind, 0) + 1
        token, forwarded = tokens[rng.randrange(len(tokens))]
        head = (
            f"POST /v1/campaigns/{plan.campaigns[campaign]}/comments HTTP/1.1\r\n"
            f"Authorization: Bearer {token.decode()}\r\n"
            f"Idempotency-Key: n{plan.seed}-{plan.worker}-{index}\r\n"
        ).encode() + forwarded
        job = Job(index, "comment", head, json.dumps({"text": drawn.text}).encode(), campaign)
        return job

    def next_job(now: float) -> Job | None:
        if retry and retry[0][0] <= now:
            return retry.popleft()[1]
        if phase["now"] == "register":
            if state["issued"] < plan.participants:
                state["issued"] += 1
                return register_job(state["issued"])
            return None
        if state["issued"] < state["released"]:
            state["issued"] += 1
            return comment_job(state["issued"])
        return None

    def check_done() -> None:
        if state["inflight"] or retry:
            return
        if phase["now"] == "register" and state["issued"] >= plan.participants:
            phase["now"] = "waiting"
            counters[base + REGISTERED] = len(tokens)
            (out / f"registered-{plan.worker}").write_text(str(len(tokens)))
        elif phase["now"] == "comments" and state["issued"] >= my_comments and not finished.done():
            finished.set_result(None)

    class Connection(asyncio.Protocol):
        def __init__(self, host: str, port: str) -> None:
            self.host_header = f"Host: {host}:{port}\r\nContent-Type: application/json\r\n".encode()
            self.buffer = b""
            self.job: Job | None = None
            self.sent_at = 0.0
            self.transport: asyncio.Transport | None = None
            self.lost = loop.create_future()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]
            self.pump()

        def pump(self) -> None:
            if self.transport is None or self.transport.is_closing():
                return
            job = next_job(time.perf_counter())
            if job is None:
                idle.append(self)
                return
            self.job = job
            state["inflight"] += 1
            self.sent_at = time.perf_counter()
            self.transport.write(
                b"".join(
                    (
                        job.head,
                        self.host_header,
                        b"Content-Length: ",
                        str(len(job.body)).encode(),
                        b"\r\n\r\n",
                        job.body,
                    )
                )
            )
            counters[base + SENT] += 1

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            end_of_head = self.buffer.find(b"\r\n\r\n")
            if end_of_head < 0:
                return
            length = _CONTENT_LENGTH.search(self.buffer, 0, end_of_head + 2)
            end = end_of_head + 4 + (int(length.group(1)) if length else 0)
            if len(self.buffer) < end:
                return
            response, self.buffer = self.buffer[:end], self.buffer[end:]
            status = int(response[9:12])
            job = self.job
            assert job is not None
            self.job = None
            state["inflight"] -= 1
            now = time.perf_counter()
            statuses[status] = statuses.get(status, 0) + 1
            if job.kind == "comment":
                latencies.append(now - self.sent_at)
            body = response[end_of_head + 4 :]
            if status in (201, 202):
                if job.kind == "participant":
                    token = _TOKEN.search(body).group(1)  # type: ignore[union-attr]
                    tokens.append((token, job.forwarded))
                    counters[base + REGISTERED] = len(tokens)
                else:
                    comment_id = _ID.search(body).group(1).decode()  # type: ignore[union-attr]
                    accepted.write(f"{comment_id}\t{job.campaign}\t{time.time():.6f}\n")
                    counters[base + ACCEPTED] += 1
            elif status in (429, 503) or status >= 500:
                if status == 503:
                    counters[base + UNAVAILABLE] += 1
                wait = _RETRY_AFTER.search(response, 0, end_of_head + 2)
                self.requeue(job, float(wait.group(1)) if wait else 0.5)
            else:
                counters[base + FAILED] += 1
                if counters[base + FAILED] <= 5:
                    print(f"worker {plan.worker}: {status} {body[:300]!r}", flush=True)
            check_done()
            self.pump()

        def requeue(self, job: Job, delay: float) -> None:
            job.attempt += 1
            counters[base + RETRIED] += 1
            retry.append((time.perf_counter() + min(delay, 5.0), job))

        def connection_lost(self, exc: Exception | None) -> None:
            if self.job is not None:
                state["inflight"] -= 1
                self.requeue(self.job, 0.2)
                self.job = None
            if self in idle:
                idle.remove(self)
            if not self.lost.done():
                self.lost.set_result(None)

    async def keep_connected(index: int) -> None:
        host, port = hosts[index % len(hosts)]
        while not finished.done():
            try:
                _, connection = await loop.create_connection(
                    lambda: Connection(host, port), host, int(port)
                )
            except OSError:
                await asyncio.sleep(0.2)
                continue
            await asyncio.wait([connection.lost, finished], return_when=asyncio.FIRST_COMPLETED)
            if connection.transport is not None:
                connection.transport.close()

    def wake() -> None:
        waiting = idle[:]
        idle.clear()
        for connection in waiting:
            connection.pump()  # back on the idle list if there is nothing to send yet

    cpu_at_start = time.process_time()
    tasks = [asyncio.create_task(keep_connected(i)) for i in range(plan.connections)]
    # registration: the connections pump until every participant has its token
    while phase["now"] == "register":
        await asyncio.sleep(0.05)
        if DEBUG:
            print(f"worker {plan.worker}: {state} idle {len(idle)} retry {len(retry)}", flush=True)
        wake()
        check_done()
    # every worker starts the curve at the same wall-clock time, which the parent sets once
    # all have registered their participants
    while not counters[plan.workers * SLOTS]:  # noqa: ASYNC110 (set by another process)
        await asyncio.sleep(0.01)
    await asyncio.sleep(max(0.0, counters[plan.workers * SLOTS] - time.time()))
    phase["now"] = "comments"
    state["issued"] = 0
    shown = 0.0
    started = time.perf_counter()
    while not finished.done():
        elapsed = time.perf_counter() - started
        u = min(1.0, elapsed / plan.seconds) if plan.seconds > 0 else 1.0
        at = u * steps
        i = min(int(at), steps - 1)
        share = fractions[i] + (fractions[i + 1] - fractions[i]) * (at - i)
        state["released"] = min(my_comments, round(my_comments * share))
        if u >= 1.0:
            state["released"] = my_comments
        wake()
        check_done()
        counters[base + CPU] = time.process_time() - cpu_at_start
        if DEBUG and elapsed - shown >= 1.0:
            shown = elapsed
            print(f"worker {plan.worker}: {state} idle {len(idle)} retry {len(retry)}", flush=True)
        await asyncio.sleep(0.005)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    accepted.close()
    with (out / f"latencies-{plan.worker}.f32").open("wb") as f:
        latencies.tofile(f)
    (out / f"summary-{plan.worker}.json").write_text(
        json.dumps({"kinds": kinds, "statuses": statuses, "comments": my_comments})
    )
    counters[base + CPU] = time.process_time() - cpu_at_start
    counters[base + DONE] = 1


def due_fraction(fractions: list[float], share: float) -> float:
    """u at which the curve has released ``share`` of the comments (for reporting)."""
    i = bisect.bisect_left(fractions, share)
    return i / (len(fractions) - 1)
