"""Participant notifications planned from domain events: a reply to my comment, the decision on
my comment (with its statement of reasons), the decision on my appeal, and the outcome of a
consultation I took part in ("what happened to your input").

The planner keeps what it needs from the bus (sealed contacts and consent from
``participant.registered``, who wrote which comment from ``comment.submitted``) and writes
notifications to an outbox; the message worker sends them. Only participants who consented, and
did not unsubscribe since, are planned for; erasure deletes everything about a participant.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from kolot.common.events import (
    AppealDecided,
    CommentModerated,
    CommentPublished,
    CommentSubmitted,
    Event,
    LocalizedText,
    OutcomePublished,
    OutcomePublishedData,
    ParticipantErased,
    ParticipantRegistered,
    derived_id,
    utcnow,
)
from kolot.common.store import stamp
from kolot.notify.models import LANGUAGES, Contact, Language, Notification, Template
from kolot.notify.repository import ContactRepository, Outbox

log = logging.getLogger(__name__)

PLANNED_TYPES: frozenset[str] = frozenset(
    cls.event_type()
    for cls in (
        ParticipantRegistered,
        ParticipantErased,
        CommentSubmitted,
        CommentModerated,
        CommentPublished,
        AppealDecided,
        OutcomePublished,
    )
)


def next_digest(now: datetime, hour: int) -> datetime:
    """The next daily digest time (``hour`` o'clock UTC) strictly after ``now``."""
    at = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def localized(text: LocalizedText, language: Language) -> str:
    """The text in ``language``, else in another language it exists in."""
    for candidate in (language, *LANGUAGES):
        value: str | None = getattr(text, candidate)
        if value:
            return value
    return ""


def _fixed(params: dict[str, str]) -> Callable[[Language], dict[str, str]]:
    """Params that are the same in every language."""
    return lambda _: params


def _outcome_params(data: OutcomePublishedData, link: str) -> Callable[[Language], dict[str, str]]:
    def params(language: Language) -> dict[str, str]:
        return {
            "summary": localized(data.summary, language),
            "decisions": "\n".join(localized(d, language) for d in data.decisions),
            "link": link,
        }

    return params


class NotificationPlanner:
    def __init__(
        self,
        *,
        contacts: ContactRepository,
        outbox: Outbox,
        public_url: str,
        digest_hour: int,
        clock: Callable[[], datetime] = utcnow,
        on_planned: Callable[[], None] = lambda: None,
    ) -> None:
        self._contacts = contacts
        self._outbox = outbox
        self._public_url = public_url.rstrip("/")
        self._digest_hour = digest_hour
        self._clock = clock
        self._on_planned = on_planned

    async def handle(self, events: Sequence[Event]) -> None:
        """One batch, in passes that keep the bus's order where it matters: contacts and authors
        first (a comment's decision may be in the same batch as the comment), erasures last (an
        erased participant's notifications planned in this batch are deleted with the rest)."""
        now = self._clock()
        registered = [e for e in events if isinstance(e, ParticipantRegistered)]
        await self._contacts.register(
            [
                Contact(
                    id=e.data.participant_id,
                    contact_sealed=e.data.contact_sealed,
                    consent=e.data.consent_notifications,
                    token=secrets.token_urlsafe(24),
                    updated_at=stamp(now),
                )
                for e in registered
                if e.data.contact_sealed and e.data.consent_notifications
            ]
        )
        await self._contacts.record_authors(
            [
                (e.data.comment_id, e.data.participant_id, e.subject)
                for e in events
                if isinstance(e, CommentSubmitted)
            ]
        )
        await self._remember_languages(events)
        planned = await self._plan(events, now)
        inserted = await self._outbox.insert_new([n.to_document() for n in planned])
        erased = [e.data.participant_id for e in events if isinstance(e, ParticipantErased)]
        if erased:
            await self._contacts.erase(erased)
            log.info("erased %d participants' contacts and notifications", len(erased))
        if inserted:
            self._on_planned()

    async def _remember_languages(self, events: Sequence[Event]) -> None:
        moderated = [e for e in events if isinstance(e, CommentModerated)]
        if not moderated:
            return
        authors = await self._contacts.authors([e.data.comment_id for e in moderated])
        languages: dict[str, Language] = {}
        for e in moderated:
            author = e.data.participant_id or authors.get(e.data.comment_id)
            language = e.data.language
            if author and language in LANGUAGES:
                languages[author] = language
        await self._contacts.set_languages(languages)

    async def _plan(self, events: Sequence[Event], now: datetime) -> list[Notification]:
        # (cause event, participant, template, params-by-language)
        wanted: list[tuple[Event, str, Template, Callable[[Language], dict[str, str]]]] = []
        comment_ids = [cid for e in events for cid in self._comments_of(e)]
        authors = await self._contacts.authors(comment_ids) if comment_ids else {}
        for event in events:
            link = f"{self._public_url}/campaigns/{event.subject}"
            if isinstance(event, CommentModerated):
                data = event.data
                # an automatic approval is the ordinary case and would mail every comment back
                # to its author: people hear of rejections, and of any decision a person made
                if data.decision == "review" or (data.automatic and data.decision == "approve"):
                    continue
                author = data.participant_id or authors.get(data.comment_id)
                statement = data.statement or ""
                decision = data.decision
                if author:
                    wanted.append(
                        (
                            event,
                            author,
                            "decision",
                            _fixed({"decision": decision, "statement": statement, "link": link}),
                        )
                    )
            elif isinstance(event, CommentPublished) and event.data.parent_id:
                parent_author = authors.get(event.data.parent_id)
                if parent_author and parent_author != authors.get(event.data.comment_id):
                    text = event.data.text
                    wanted.append(
                        (
                            event,
                            parent_author,
                            "reply",
                            _fixed({"text": text, "link": link}),
                        )
                    )
            elif isinstance(event, AppealDecided):
                author = event.data.participant_id or authors.get(event.data.comment_id)
                if author:
                    outcome, statement = event.data.outcome, event.data.statement
                    wanted.append(
                        (
                            event,
                            author,
                            "appeal",
                            _fixed({"outcome": outcome, "statement": statement, "link": link}),
                        )
                    )
            elif isinstance(event, OutcomePublished):
                params = _outcome_params(event.data, event.data.url or link)
                for participant in await self._contacts.contributors(event.subject):
                    wanted.append((event, participant, "outcome", params))
        if not wanted:
            return []
        contacts = await self._contacts.get_many(list({p for _, p, _, _ in wanted}))
        planned: list[Notification] = []
        for event, participant, template, params in wanted:
            contact = contacts.get(participant)
            if contact is None or not contact.consent or contact.unsubscribed:
                continue
            digest = contact.frequency == "daily"
            due = next_digest(now, self._digest_hour) if digest else now
            planned.append(
                Notification(
                    id=derived_id(event.id, participant, template),
                    participant_id=participant,
                    template=template,
                    campaign_id=event.subject,
                    params=params(contact.language),
                    due_at=stamp(due),
                    digest=digest,
                    created_at=stamp(now),
                )
            )
        return planned

    @staticmethod
    def _comments_of(event: Event) -> list[str]:
        if isinstance(event, CommentModerated | AppealDecided):
            return [event.data.comment_id]
        if isinstance(event, CommentPublished) and event.data.parent_id:
            return [event.data.parent_id, event.data.comment_id]
        return []
