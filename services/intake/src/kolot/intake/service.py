"""Intake's domain logic: campaigns, participants and contributions, log first.

A contribution is accepted when JetStream has stored its event; nothing is written to MongoDB on
the request path. Campaign changes are published first and then projected, so a change is
visible if and only if its event is in the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from kolot.common.auth import Participant, issue_participant_token
from kolot.common.bus import EventPublisher
from kolot.common.events import (
    CampaignClosed,
    CampaignCreated,
    CampaignOpened,
    CampaignSnapshot,
    CommentSubmitted,
    CommentSubmittedData,
    ParticipantRegistered,
    ParticipantRegisteredData,
    VisitRecorded,
    VisitRecordedData,
    derived_id,
    new_id,
    utcnow,
)
from kolot.common.events.visit import Attribution
from kolot.intake.campaigns import CampaignDirectory
from kolot.intake.receipts import Receipt, sign_receipt
from kolot.intake.repository import IntakeRepository
from kolot.intake.schemas import CampaignCreate, CommentCreate, ParticipantCreate, VisitCreate
from kolot.intake.text import clean_text, sha256_hex


class IntakeError(Exception):
    """A request that cannot be honoured as asked; the API turns it into a problem document."""

    def __init__(self, status: int, kind: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail


def _not_found(campaign_id: str) -> IntakeError:
    return IntakeError(
        404, "campaign-not-found", "No such consultation", f"no campaign {campaign_id}"
    )


@dataclass(frozen=True, slots=True)
class Submitted:
    id: str
    receipt: str


Transition = Literal["open", "close"]
_TRANSITIONS: dict[Transition, tuple[frozenset[str], str]] = {
    "open": (frozenset({"draft", "closed"}), "open"),
    "close": (frozenset({"open"}), "closed"),
}


class IntakeService:
    def __init__(
        self,
        *,
        publisher: EventPublisher,
        repository: IntakeRepository,
        directory: CampaignDirectory,
        participant_secret: str,
        receipt_secret: str,
        max_comment_chars: int,
    ) -> None:
        self.publisher = publisher
        self.repository = repository
        self.directory = directory
        self._participant_secret = participant_secret
        self._receipt_secret = receipt_secret
        self._max_comment_chars = max_comment_chars

    # campaigns ---------------------------------------------------------------------------

    async def create_campaign(self, body: CampaignCreate) -> CampaignSnapshot:
        now = utcnow()
        campaign_id = new_id()
        snapshot = CampaignSnapshot(
            campaign_id=campaign_id,
            status="draft",
            created_at=now,
            updated_at=now,
            **body.model_dump(),
        )
        await self._commit(CampaignCreated(subject=campaign_id, data=snapshot))
        return snapshot

    async def change_status(self, campaign_id: str, transition: Transition) -> CampaignSnapshot:
        current = await self.directory.get(campaign_id)
        if current is None:
            raise _not_found(campaign_id)
        allowed_from, target = _TRANSITIONS[transition]
        if current.status == target:
            return current  # opening an open campaign again is a no-op, not an error
        if current.status not in allowed_from:
            raise IntakeError(
                409,
                "campaign-state",
                "The consultation cannot make this change",
                f"a {current.status} campaign cannot {transition}",
            )
        if transition == "open" and all(not text for text in current.purpose.model_dump().values()):
            raise IntakeError(
                409,
                "purpose-required",
                "State the purpose before opening",
                "Every consultation must say what it is for and how input will be used "
                "(purpose, in at least one language) before it opens.",
            )
        updated = current.model_copy(update={"status": target, "updated_at": utcnow()})
        event_cls = CampaignOpened if transition == "open" else CampaignClosed
        await self._commit(event_cls(subject=campaign_id, data=updated))
        return updated

    async def _commit(self, event: CampaignCreated | CampaignOpened | CampaignClosed) -> None:
        # publish first: the stream is the truth. Then project here too, for read-your-writes;
        # the projector applies the same snapshot again, idempotently.
        await self.publisher.publish(event)
        await self.publisher.publish_public(event)
        self.directory.apply(event.data)
        await self.repository.save_campaigns([event.data])

    async def require_open(self, campaign_id: str) -> CampaignSnapshot:
        campaign = await self.directory.get(campaign_id)
        if campaign is None:
            raise _not_found(campaign_id)
        if campaign.status != "open":
            raise IntakeError(
                409,
                "campaign-not-open",
                "The consultation is not open",
                f"this consultation is {campaign.status}; contributions are not accepted",
            )
        now = utcnow()
        if (campaign.opens_at and now < campaign.opens_at) or (
            campaign.closes_at and now >= campaign.closes_at
        ):
            raise IntakeError(
                409,
                "campaign-not-open",
                "The consultation is not open",
                "contributions are accepted only between its opening and closing times",
            )
        return campaign

    # participants ------------------------------------------------------------------------

    async def register_participant(self, body: ParticipantCreate) -> tuple[str, str]:
        participant_id = new_id()
        event = ParticipantRegistered(
            data=ParticipantRegisteredData(
                participant_id=participant_id,
                kind=body.kind,
                source=body.source,
                consent_notifications=body.consent.get("notifications", False),
            )
        )
        await self.publisher.publish(event)
        return participant_id, issue_participant_token(self._participant_secret, participant_id)

    # contributions -----------------------------------------------------------------------

    async def submit_comment(
        self,
        campaign_id: str,
        body: CommentCreate,
        *,
        author: Participant,
        idempotency_key: str | None,
    ) -> Submitted:
        await self.require_open(campaign_id)
        text = clean_text(body.text)
        if not text:
            raise IntakeError(422, "validation", "Invalid request", "the comment is empty")
        if len(text) > self._max_comment_chars:
            raise IntakeError(
                422,
                "comment-too-long",
                "The comment is too long",
                f"a comment may have at most {self._max_comment_chars} characters; "
                f"this one has {len(text)}",
            )
        comment_id = (
            derived_id("comment", author.participant_id, idempotency_key)
            if idempotency_key
            else new_id()
        )
        digest = sha256_hex(text)
        event = CommentSubmitted(
            id=comment_id,
            subject=campaign_id,
            data=CommentSubmittedData(
                comment_id=comment_id,
                participant_id=author.participant_id,
                text=text,
                text_sha256=digest,
                parent_id=body.parent_id,
                circle=body.circle,
            ),
        )
        await self.publisher.publish(event)
        return Submitted(
            id=comment_id, receipt=self._receipt(event.id, campaign_id, event.time, digest)
        )

    async def record_visit(
        self, campaign_id: str, body: VisitCreate, *, visitor: Participant | None
    ) -> str:
        if await self.directory.get(campaign_id) is None:
            raise _not_found(campaign_id)
        event = VisitRecorded(
            subject=campaign_id,
            data=VisitRecordedData(
                visit_id=new_id(),
                participant_id=visitor.participant_id if visitor else None,
                attribution=Attribution(source=body.source, medium=body.medium, tag=body.tag),
            ),
        )
        await self.publisher.publish(event)
        return event.data.visit_id

    def _receipt(self, contribution_id: str, campaign_id: str, at: datetime, digest: str) -> str:
        return sign_receipt(
            self._receipt_secret,
            Receipt(
                contribution_id=contribution_id,
                campaign_id=campaign_id,
                kind="comment",
                submitted_at=at,
                text_sha256=digest,
            ),
        )
