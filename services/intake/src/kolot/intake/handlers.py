"""Intake's projector: its read models of campaigns and comments, built from the bus in batches."""

from __future__ import annotations

from pymongo import UpdateOne

from kolot.common.events import (
    CampaignArchived,
    CampaignClosed,
    CampaignCreated,
    CampaignOpened,
    CampaignUpdated,
    CommentHidden,
    CommentModerated,
    CommentPublished,
    CommentSubmitted,
    Event,
)
from kolot.common.store import stamp
from kolot.intake.repository import IntakeRepository, sort_key, status_change

CAMPAIGN_TYPES = frozenset(
    cls.event_type()
    for cls in (CampaignCreated, CampaignUpdated, CampaignOpened, CampaignClosed, CampaignArchived)
)
COMMENT_TYPES = frozenset(
    cls.event_type()
    for cls in (CommentSubmitted, CommentModerated, CommentPublished, CommentHidden)
)


def comment_changes(events: list[Event]) -> list[UpdateOne]:
    """The writes that bring the comments read model up to date with ``events`` (idempotent)."""
    ops: list[UpdateOne] = []
    for event in events:
        match event:
            case CommentSubmitted(data=data):
                ops.append(
                    UpdateOne(
                        {"_id": data.comment_id},
                        {
                            # a status event may have been applied first (replicas race)
                            "$setOnInsert": {"status": "pending", "status_at": stamp(event.time)},
                            "$set": {
                                "sort_key": sort_key(event.time, data.comment_id),
                                "campaign_id": event.subject,
                                "participant_id": data.participant_id,
                                "text": data.text,
                                "text_sha256": data.text_sha256,
                                "parent_id": data.parent_id,
                                "circle": data.circle,
                                "channel": data.channel,
                                "created_at": stamp(event.time),
                            },
                        },
                        upsert=True,
                    )
                )
            case CommentModerated(data=data):
                decided = {
                    "decision": data.decision,
                    "reasons": data.reasons,
                    "statement": data.statement,
                    "language": data.language,
                    "moderated_at": stamp(event.time),
                }
                if data.decision == "approve":
                    # the status becomes "published" with comment.published; record the decision
                    ops.append(UpdateOne({"_id": data.comment_id}, {"$set": decided}, upsert=True))
                else:
                    status = "rejected" if data.decision == "reject" else "review"
                    ops.append(
                        status_change(data.comment_id, event.time, {**decided, "status": status})
                    )
            case CommentPublished(data=data):
                ops.append(
                    status_change(
                        data.comment_id,
                        event.time,
                        {
                            "status": "published",
                            "campaign_id": event.subject,
                            "public_text": data.text,
                            "language": data.language,
                            "published_at": stamp(event.time),
                        },
                        # published before its submission was projected (replicas race): order
                        # it by the submission time moderation saw until the submission lands
                        on_insert={
                            "sort_key": sort_key(data.submitted_at or event.time, data.comment_id)
                        },
                    )
                )
            case CommentHidden(data=data):
                ops.append(
                    status_change(
                        data.comment_id,
                        event.time,
                        {
                            "status": "hidden",
                            "hidden_reason": data.reason,
                            "statement": data.statement,
                        },
                    )
                )
            case _:
                pass
    return ops


class Projector:
    def __init__(self, repository: IntakeRepository) -> None:
        self.repository = repository

    async def on_comment_events(self, events: list[Event]) -> None:
        await self.repository.apply_comment_changes(comment_changes(events))

    async def on_campaign_events(self, events: list[Event]) -> None:
        snapshots = [
            e.data
            for e in events
            if isinstance(
                e,
                CampaignCreated
                | CampaignUpdated
                | CampaignOpened
                | CampaignClosed
                | CampaignArchived,
            )
        ]
        await self.repository.save_campaigns(snapshots)
