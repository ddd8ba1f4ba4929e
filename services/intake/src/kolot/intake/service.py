"""Intake's domain logic: campaigns, participants and contributions, log first.

A contribution is accepted when JetStream has stored its event; nothing is written to MongoDB on
the request path. Campaign changes are published first and then projected, so a change is
visible if and only if its event is in the stream.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt

from kolot.common.auth import Participant, issue_participant_token
from kolot.common.bus import EventPublisher
from kolot.common.contacts import ContactSealer
from kolot.common.events import (
    AppealFiled,
    AppealFiledData,
    CampaignArchived,
    CampaignClosed,
    CampaignCreated,
    CampaignOpened,
    CampaignSnapshot,
    CampaignUpdated,
    Channel,
    CommentFlagged,
    CommentFlaggedData,
    CommentSubmitted,
    CommentSubmittedData,
    LocalizedText,
    OutcomePublished,
    OutcomePublishedData,
    ParticipantErased,
    ParticipantErasedData,
    ParticipantRegistered,
    ParticipantRegisteredData,
    ParticipantVerified,
    ParticipantVerifiedData,
    Profile,
    Provenance,
    ResponseSubmitted,
    ResponseSubmittedData,
    VisitRecorded,
    VisitRecordedData,
    VoteCast,
    VoteCastData,
    derived_id,
    new_id,
    utcnow,
)
from kolot.common.events.visit import Attribution
from kolot.intake.campaigns import CampaignDirectory
from kolot.intake.invitations import Invitation, sign_invitation, verify_invitation
from kolot.intake.receipts import Receipt, sign_receipt
from kolot.intake.repository import IntakeRepository
from kolot.intake.rules import (
    AnswerErrors,
    Refusal,
    circle_refusal,
    reply_depth,
    validate_answers,
)
from kolot.intake.schemas import (
    AppealCreate,
    CampaignCreate,
    CampaignFields,
    CommentCreate,
    FlagCreate,
    InvitationCreate,
    InvitationsIssued,
    OutcomeCreate,
    ParticipantCreate,
    ResponseCreate,
    VerificationCreate,
    VisitCreate,
    VoteCreate,
)
from kolot.intake.text import clean_text, sha256_hex

log = logging.getLogger(__name__)


class IntakeError(Exception):
    """A request that cannot be honoured as asked; the API turns it into a problem document."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        *,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.extensions = extensions or {}

    @classmethod
    def of(cls, refusal: Refusal) -> IntakeError:
        return cls(refusal.status, refusal.kind, refusal.title, refusal.detail)


def _not_found(campaign_id: str) -> IntakeError:
    return IntakeError(
        404, "campaign-not-found", "No such consultation", f"no campaign {campaign_id}"
    )


def _comment_not_found(comment_id: str) -> IntakeError:
    return IntakeError(
        404,
        "comment-not-found",
        "No such comment",
        f"no published comment {comment_id} (it may take a moment to appear after submitting)",
    )


@dataclass(frozen=True, slots=True)
class Submitted:
    id: str
    receipt: str


@dataclass(frozen=True, slots=True)
class Registered:
    participant_id: str
    token: str
    circles: list[str]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a contribution came from: the channel, its provenance, a hash of the address."""

    channel: Channel = "web"
    provenance: Provenance | None = None
    client_ref: str | None = None


WEB = Origin()

Transition = Literal["open", "close", "archive"]
_TRANSITIONS: dict[Transition, tuple[frozenset[str], str]] = {
    "open": (frozenset({"draft", "closed"}), "open"),
    "close": (frozenset({"open"}), "closed"),
    "archive": (frozenset({"closed"}), "archived"),
}
_EVENT_FOR: dict[str, type[CampaignOpened | CampaignClosed | CampaignArchived]] = {
    "open": CampaignOpened,
    "closed": CampaignClosed,
    "archived": CampaignArchived,
}
CampaignEvent = (
    CampaignCreated | CampaignUpdated | CampaignOpened | CampaignClosed | CampaignArchived
)


def _has_text(text: LocalizedText) -> bool:
    return any(v and v.strip() for v in (text.he, text.ar, text.en))


class IntakeService:
    def __init__(
        self,
        *,
        publisher: EventPublisher,
        repository: IntakeRepository,
        directory: CampaignDirectory,
        participant_secret: str,
        receipt_secret: str,
        sealer: ContactSealer,
        max_comment_chars: int,
        meeting_grace: timedelta = timedelta(days=14),
    ) -> None:
        self.publisher = publisher
        self.repository = repository
        self.directory = directory
        self.sealer = sealer
        self._participant_secret = participant_secret
        self._receipt_secret = receipt_secret
        self._max_comment_chars = max_comment_chars
        self._meeting_grace = meeting_grace
        # client addresses are never stored or published; a keyed hash lets moderation see bursts
        self._address_key = hmac.new(
            participant_secret.encode(), b"kolot client address", hashlib.sha256
        ).digest()

    # campaigns ---------------------------------------------------------------------------

    async def create_campaign(self, body: CampaignCreate) -> CampaignSnapshot:
        now = utcnow()
        campaign_id = new_id()
        fields = body.changes()
        self._check_routing(campaign_id, fields.get("keyword"), fields.get("short_code"))
        snapshot = CampaignSnapshot(
            campaign_id=campaign_id, status="draft", created_at=now, updated_at=now, **fields
        )
        await self._commit(CampaignCreated(subject=campaign_id, data=snapshot))
        return snapshot

    async def update_campaign(self, campaign_id: str, body: CampaignFields) -> CampaignSnapshot:
        current = await self._campaign(campaign_id)
        changes = body.changes()
        if current.status == "archived":
            raise IntakeError(
                409, "campaign-state", "The consultation is archived", "archived is read-only"
            )
        if current.status != "draft":
            if "questions" in changes and changes["questions"] != current.questions:
                raise IntakeError(
                    409,
                    "questions-locked",
                    "The survey can no longer change",
                    "responses already refer to these questions; questions change only in draft",
                )
            if "circles" in changes:
                kept = {c["id"] for c in changes["circles"]}
                removed = {c.get("id") for c in current.circles} - kept
                if removed:
                    raise IntakeError(
                        409,
                        "circles-locked",
                        "Circles cannot be removed once open",
                        f"members have taken part in: {', '.join(sorted(map(str, removed)))}",
                    )
        self._check_routing(campaign_id, changes.get("keyword"), changes.get("short_code"))
        merged = {**current.model_dump(), **changes, "updated_at": utcnow()}
        snapshot = CampaignSnapshot.model_validate(merged)
        if snapshot.opens_at and snapshot.closes_at and snapshot.closes_at <= snapshot.opens_at:
            raise IntakeError(
                422, "validation", "Invalid request", "closes_at must be after opens_at"
            )
        await self._commit(CampaignUpdated(subject=campaign_id, data=snapshot))
        return snapshot

    def _check_routing(self, campaign_id: str, keyword: str | None, short_code: str | None) -> None:
        if keyword is None and short_code is None:
            return
        for other in self.directory.routing(keyword=keyword, short_code=short_code):
            if other.campaign_id != campaign_id:
                raise IntakeError(
                    409,
                    "routing-taken",
                    "Keyword or short code in use",
                    f"consultation {other.campaign_id} already uses this keyword or short code; "
                    "archive it or choose another",
                )

    async def change_status(
        self, campaign_id: str, transition: Transition, *, scheduled: bool = False
    ) -> CampaignSnapshot:
        current = await self._campaign(campaign_id)
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
        if transition == "open":
            missing = [
                name
                for name, text in (
                    ("purpose", current.purpose),
                    ("use_of_input", current.use_of_input),
                )
                if not _has_text(text)
            ]
            if missing:
                raise IntakeError(
                    409,
                    "purpose-required",
                    "State the purpose before opening",
                    "Every consultation must say what it is for and how input will be used "
                    f"before it opens: set {' and '.join(missing)} (in at least one language).",
                )
        now = utcnow()
        update: dict[str, Any] = {"status": target, "updated_at": now}
        if transition == "open" and not scheduled:
            # opening by hand means now: an opening time still ahead would keep it shut
            if current.opens_at and current.opens_at > now:
                update["opens_at"] = now
            if current.closes_at and current.closes_at <= now:
                update["closes_at"] = None  # reopened after its closing time: no closing time
        if transition == "close" and (current.closes_at is None or current.closes_at > now):
            update["closes_at"] = now  # closing by hand means now: the closing time is a fact
        updated = current.model_copy(update=update)
        # every replica runs the schedule: one id per scheduled change, so the stream keeps one
        event_id = (
            derived_id("schedule", campaign_id, transition, str(current.updated_at))
            if scheduled
            else new_id()
        )
        await self._commit(_EVENT_FOR[target](id=event_id, subject=campaign_id, data=updated))
        return updated

    async def run_schedule(self) -> int:
        """Opens and closes the campaigns whose time has come; returns how many changed."""
        changed = 0
        for campaign, transition in self.directory.due(utcnow()):
            try:
                await self.change_status(
                    campaign.campaign_id,
                    "open" if transition == "open" else "close",
                    scheduled=True,
                )
                changed += 1
            except IntakeError as exc:
                log.warning(
                    "scheduled %s of campaign %s refused: %s",
                    transition,
                    campaign.campaign_id,
                    exc.detail,
                )
        return changed

    async def _commit(self, event: CampaignEvent) -> None:
        # publish first: the stream is the truth. Then project here too, for read-your-writes;
        # the projector applies the same snapshot again, idempotently.
        await self.publisher.publish(event)
        await self.publisher.publish_public(event)
        self.directory.apply(event.data)
        await self.repository.save_campaigns([event.data])

    async def _campaign(self, campaign_id: str) -> CampaignSnapshot:
        campaign = await self.directory.get(campaign_id)
        if campaign is None:
            raise _not_found(campaign_id)
        return campaign

    async def require_open(self, campaign_id: str) -> CampaignSnapshot:
        campaign = await self._campaign(campaign_id)
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

    async def require_meeting_window(self, campaign_id: str) -> CampaignSnapshot:
        """Open, or closed for at most the upload grace period: input from meetings held before
        the closing is typed in afterwards (each row then says when it was recorded)."""
        campaign = await self._campaign(campaign_id)
        if campaign.status == "closed" and campaign.closes_at is not None:
            if utcnow() <= campaign.closes_at + self._meeting_grace:
                return campaign
            raise IntakeError(
                409,
                "campaign-not-open",
                "The consultation is closed",
                f"meeting records are accepted up to {self._meeting_grace.days} days after the "
                "closing; this consultation closed earlier",
            )
        return await self.require_open(campaign_id)

    async def publish_outcome(self, campaign_id: str, body: OutcomeCreate) -> OutcomePublished:
        campaign = await self._campaign(campaign_id)
        if campaign.status == "draft":
            raise IntakeError(
                409,
                "campaign-state",
                "Nothing to report yet",
                "an outcome is published for a consultation that has opened",
            )
        event = OutcomePublished(
            subject=campaign_id,
            data=OutcomePublishedData(
                outcome_id=new_id(),
                summary=LocalizedText(**body.summary.model_dump()),
                decisions=[LocalizedText(**d.model_dump()) for d in body.decisions],
                url=body.url,
            ),
        )
        await self.publisher.publish(event)
        await self.publisher.publish_public(event)
        await self.repository.save_outcomes([event])
        return event

    # participants ------------------------------------------------------------------------

    def _token(self, participant_id: str, circles: set[str] | frozenset[str], kind: str) -> str:
        return issue_participant_token(
            self._participant_secret, participant_id, circles=circles, kind=kind
        )

    async def issue_invitations(
        self, campaign_id: str, body: InvitationCreate
    ) -> InvitationsIssued:
        campaign = await self._campaign(campaign_id)
        if campaign.circle(body.circle) is None:
            raise IntakeError(
                422, "unknown-circle", "No such circle", f"this consultation has no {body.circle}"
            )
        expires = utcnow() + timedelta(days=body.valid_days)
        tokens = [
            sign_invitation(
                self._participant_secret,
                Invitation(
                    invitation_id=new_id(),
                    campaign_id=campaign_id,
                    circle=body.circle,
                    verified=body.verified,
                    source=body.source,
                    expires_at=int(expires.timestamp()),
                ),
            )
            for _ in range(body.count)
        ]
        return InvitationsIssued(circle=body.circle, expires_at=expires, invitations=tokens)

    async def _redeem(
        self, participant_id: str, token: str
    ) -> tuple[Invitation, ParticipantVerified]:
        try:
            invitation = verify_invitation(self._participant_secret, token)
        except jwt.PyJWTError as exc:
            raise IntakeError(
                422,
                "bad-invitation",
                "The invitation is not valid",
                f"this invitation is unknown, altered or expired ({exc}); ask for a new one",
            ) from exc
        campaign = await self._campaign(invitation.campaign_id)
        circle = campaign.circle(invitation.circle)
        if circle is None:
            raise IntakeError(
                422, "bad-invitation", "The invitation is not valid", "its circle was removed"
            )
        if circle.access == "verified" and not invitation.verified:
            raise IntakeError(
                403,
                "verification-required",
                "This circle needs verification",
                "the invitation does not verify you; the ministry verifies members of this circle",
            )
        claimed_by = await self.repository.claim_invitation(
            invitation.invitation_id,
            participant_id=participant_id,
            campaign_id=campaign.campaign_id,
        )
        if claimed_by != participant_id:
            raise IntakeError(
                409, "invitation-used", "The invitation was already used", "ask for a new one"
            )
        event = ParticipantVerified(
            # one event per redemption, whatever the retries
            id=derived_id("redeemed", invitation.invitation_id),
            subject=campaign.campaign_id,
            data=ParticipantVerifiedData(
                participant_id=participant_id,
                circle=invitation.circle,
                method="invitation+verified" if invitation.verified else "invitation",
                campaign_id=campaign.campaign_id,
                invitation_id=invitation.invitation_id,
            ),
        )
        return invitation, event

    async def register_participant(
        self, body: ParticipantCreate, *, idempotency_key: str | None = None
    ) -> Registered:
        participant_id = derived_id("participant", idempotency_key) if idempotency_key else new_id()
        circles: set[str] = set()
        source, invitation_id, campaign_id = body.source, None, body.campaign_id
        verified: ParticipantVerified | None = None
        if body.invitation:
            invitation, verified = await self._redeem(participant_id, body.invitation)
            circles.add(invitation.circle)
            source = source or invitation.source
            invitation_id, campaign_id = invitation.invitation_id, invitation.campaign_id
        sealed = None
        if body.contact is not None:
            sealed = self.sealer.seal(body.contact.model_dump(exclude_none=True))
        event = ParticipantRegistered(
            id=derived_id("registered", participant_id),
            subject=campaign_id or "_",
            data=ParticipantRegisteredData(
                participant_id=participant_id,
                kind=body.kind,
                source=source,
                medium=body.medium,
                tag=body.tag,
                campaign_id=campaign_id,
                invitation_id=invitation_id,
                has_contact=sealed is not None,
                contact_sealed=sealed,
                consent_notifications=body.consent.notifications,
                consent_research=body.consent.research,
                circles=sorted(circles),
                profile=Profile(**body.profile.model_dump()) if body.profile else None,
            ),
        )
        await self.publisher.publish(event, *([verified] if verified else []))
        return Registered(
            participant_id=participant_id,
            token=self._token(participant_id, circles, body.kind),
            circles=sorted(circles),
        )

    async def redeem_invitation(self, participant: Participant, token: str) -> Registered:
        invitation, event = await self._redeem(participant.participant_id, token)
        await self.publisher.publish(event)
        circles = set(participant.circles) | {invitation.circle}
        return Registered(
            participant_id=participant.participant_id,
            token=self._token(participant.participant_id, circles, participant.kind),
            circles=sorted(circles),
        )

    async def verify_participant(
        self, campaign_id: str, participant_id: str, body: VerificationCreate
    ) -> None:
        campaign = await self._campaign(campaign_id)
        if campaign.circle(body.circle) is None:
            raise IntakeError(
                422, "unknown-circle", "No such circle", f"this consultation has no {body.circle}"
            )
        await self.publisher.publish(
            ParticipantVerified(
                id=derived_id("verified", participant_id, campaign_id, body.circle),
                subject=campaign_id,
                data=ParticipantVerifiedData(
                    participant_id=participant_id,
                    circle=body.circle,
                    method=body.method,
                    campaign_id=campaign_id,
                ),
            )
        )

    async def refresh_token(self, participant: Participant) -> Registered:
        """A new token with every membership the store knows (after a ministry verified you)."""
        circles = set(participant.circles) | set(
            await self.repository.memberships(participant.participant_id)
        )
        return Registered(
            participant_id=participant.participant_id,
            token=self._token(participant.participant_id, circles, participant.kind),
            circles=sorted(circles),
        )

    async def erase_participant(self, participant: Participant) -> None:
        await self.publisher.publish(
            ParticipantErased(
                id=derived_id("erased", participant.participant_id),
                data=ParticipantErasedData(participant_id=participant.participant_id),
            )
        )

    # contributions -----------------------------------------------------------------------

    def client_ref(self, address: str | None) -> str | None:
        if not address:
            return None
        return hmac.new(self._address_key, address.encode(), hashlib.sha256).hexdigest()[:24]

    def _clean_contribution(self, raw: str, *, what: str, limit: int) -> str:
        text = clean_text(raw)
        if not text:
            raise IntakeError(422, "validation", "Invalid request", f"the {what} is empty")
        if len(text) > limit:
            raise IntakeError(
                422,
                f"{what}-too-long",
                f"The {what} is too long",
                f"a {what} may have at most {limit} characters; this one has {len(text)}",
            )
        return text

    async def submit_comment(
        self,
        campaign_id: str,
        body: CommentCreate,
        *,
        author: Participant,
        idempotency_key: str | None,
        origin: Origin = WEB,
    ) -> Submitted:
        campaign = await self.require_open(campaign_id)
        text = self._clean_contribution(body.text, what="comment", limit=self._max_comment_chars)
        circle, depth = body.circle, 0
        if body.parent_id is not None:
            parent = await self.repository.get_comment(body.parent_id)
            if (
                parent is None
                or parent.get("campaign_id") != campaign_id
                or parent.get("status") != "published"
            ):
                raise IntakeError(
                    422,
                    "bad-parent",
                    "No such comment to reply to",
                    f"replies answer a published comment of this consultation; "
                    f"{body.parent_id} is not one",
                )
            next_depth = reply_depth(int(parent.get("depth") or 0))
            if next_depth is None:
                raise IntakeError(
                    422,
                    "too-deep",
                    "Replies go three levels deep",
                    "answer the comment higher up the thread instead",
                )
            depth, circle = next_depth, parent.get("circle")
        refusal = circle_refusal(campaign, circle, author)
        if refusal:
            raise IntakeError.of(refusal)
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
                circle=circle,
                depth=depth,
                kind=author.kind,  # the token carries a ParticipantKind (validated here)
                channel=origin.channel,
                provenance=origin.provenance,
                client_ref=origin.client_ref,
            ),
        )
        await self.publisher.publish(event)
        return Submitted(
            id=comment_id,
            receipt=self._receipt(event.id, campaign_id, event.time, "comment", digest),
        )

    async def submit_response(
        self,
        campaign_id: str,
        body: ResponseCreate,
        *,
        author: Participant,
        idempotency_key: str | None,
        origin: Origin = WEB,
    ) -> Submitted:
        campaign = await self.require_open(campaign_id)
        refusal = circle_refusal(campaign, body.circle, author)
        if refusal:
            raise IntakeError.of(refusal)
        questions = campaign.question_list()
        if not questions:
            raise IntakeError(
                409, "no-survey", "This consultation has no survey", "send a comment instead"
            )
        try:
            answers = validate_answers(questions, body.answers)
        except AnswerErrors as exc:
            raise IntakeError(
                422,
                "invalid-answers",
                "Some answers need fixing",
                str(exc),
                extensions={
                    "errors": [{"question": k, "detail": v} for k, v in exc.errors.items()]
                },
            ) from exc
        # one response per participant and consultation: a later one replaces it
        response_id = derived_id("response", campaign_id, author.participant_id)
        event_id = (
            derived_id("response-event", author.participant_id, idempotency_key)
            if idempotency_key
            else new_id()
        )
        event = ResponseSubmitted(
            id=event_id,
            subject=campaign_id,
            data=ResponseSubmittedData(
                response_id=response_id,
                participant_id=author.participant_id,
                answers=answers,
                circle=body.circle,
                channel=origin.channel,
                provenance=origin.provenance,
            ),
        )
        await self.publisher.publish(event)
        digest = sha256_hex(event.data.model_dump_json(include={"answers"}))
        return Submitted(
            id=response_id,
            receipt=self._receipt(event.id, campaign_id, event.time, "response", digest),
        )

    async def _published_comment(self, comment_id: str) -> dict[str, Any]:
        doc = await self.repository.get_comment(comment_id)
        if doc is None or doc.get("status") != "published":
            raise _comment_not_found(comment_id)
        return doc

    async def cast_vote(
        self,
        comment_id: str,
        body: VoteCreate,
        *,
        voter: Participant,
        idempotency_key: str | None,
        origin: Origin = WEB,
    ) -> Submitted:
        comment = await self._published_comment(comment_id)
        campaign_id = str(comment["campaign_id"])
        campaign = await self.require_open(campaign_id)
        refusal = circle_refusal(campaign, comment.get("circle"), voter)
        if refusal:
            raise IntakeError.of(refusal)
        if comment.get("participant_id") == voter.participant_id:
            raise IntakeError(
                422, "own-comment", "You cannot vote on your own comment", "support others' ideas"
            )
        vote_id = derived_id("vote", voter.participant_id, comment_id)
        event = VoteCast(
            id=(
                derived_id("vote-event", voter.participant_id, idempotency_key)
                if idempotency_key
                else new_id()
            ),
            subject=campaign_id,
            data=VoteCastData(
                vote_id=vote_id,
                participant_id=voter.participant_id,
                target_id=comment_id,
                value=body.value,
                channel=origin.channel,
                provenance=origin.provenance,
            ),
        )
        await self.publisher.publish(event)
        return Submitted(
            id=vote_id, receipt=self._receipt(event.id, campaign_id, event.time, "vote", None)
        )

    async def flag_comment(
        self, comment_id: str, body: FlagCreate, *, reporter: Participant
    ) -> str:
        comment = await self._published_comment(comment_id)
        if comment.get("participant_id") == reporter.participant_id:
            raise IntakeError(
                422, "own-comment", "You cannot report your own comment", "ask to withdraw it"
            )
        detail = clean_text(body.detail)[:1000] if body.detail else None
        # one report per participant and comment: the stream keeps the first of any retries
        flag_id = derived_id("flag", reporter.participant_id, comment_id)
        await self.publisher.publish(
            CommentFlagged(
                id=flag_id,
                subject=str(comment["campaign_id"]),
                data=CommentFlaggedData(
                    comment_id=comment_id,
                    participant_id=reporter.participant_id,
                    reason=body.reason,
                    detail=detail or None,
                ),
            )
        )
        return flag_id

    async def file_appeal(self, comment_id: str, body: AppealCreate, *, author: Participant) -> str:
        comment = await self.repository.get_comment(comment_id)
        if comment is None or comment.get("participant_id") != author.participant_id:
            raise _comment_not_found(comment_id)
        if comment.get("status") not in {"rejected", "hidden"}:
            raise IntakeError(
                409,
                "nothing-to-appeal",
                "There is no decision to appeal",
                f"your comment is {comment.get('status', 'pending')}; appeals contest a rejection "
                "or a hiding",
            )
        if comment.get("appeal_id"):
            raise IntakeError(
                409, "already-appealed", "This decision was already appealed", "one appeal each"
            )
        text = self._clean_contribution(body.text, what="appeal", limit=4000)
        appeal_id = derived_id("appeal", comment_id)
        await self.publisher.publish(
            AppealFiled(
                id=appeal_id,
                subject=str(comment.get("campaign_id", "_")),
                data=AppealFiledData(
                    appeal_id=appeal_id,
                    comment_id=comment_id,
                    participant_id=author.participant_id,
                    text=text,
                ),
            )
        )
        return appeal_id

    async def record_visit(
        self, campaign_id: str, body: VisitCreate, *, visitor: Participant | None
    ) -> str:
        await self._campaign(campaign_id)
        event = VisitRecorded(
            subject=campaign_id,
            data=VisitRecordedData(
                visit_id=new_id(),
                participant_id=visitor.participant_id if visitor else None,
                attribution=Attribution(
                    source=body.source,
                    medium=body.medium,
                    tag=body.tag,
                    invitation_id=body.invitation_id,
                ),
            ),
        )
        await self.publisher.publish(event)
        return event.data.visit_id

    def _receipt(
        self, contribution_id: str, campaign_id: str, at: datetime, kind: str, digest: str | None
    ) -> str:
        return sign_receipt(
            self._receipt_secret,
            Receipt(
                contribution_id=contribution_id,
                campaign_id=campaign_id,
                kind=kind,
                submitted_at=at,
                text_sha256=digest,
            ),
        )
