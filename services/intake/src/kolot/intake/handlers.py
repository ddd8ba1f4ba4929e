"""Intake's projector: its read models, built from the bus in batches (one bulk write per
collection per batch), idempotent, so a replay from the start of the stream rebuilds them."""

from __future__ import annotations

from collections.abc import Mapping

from pymongo import DeleteMany, DeleteOne, UpdateMany, UpdateOne

from kolot.common.events import (
    AppealDecided,
    AppealFiled,
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
    OutcomePublished,
    ParticipantErased,
    ParticipantRegistered,
    ParticipantVerified,
    ResponseSubmitted,
    VoteCast,
    derived_id,
)
from kolot.common.store import stamp
from kolot.intake.repository import IntakeRepository, rank, sort_key, status_change

CAMPAIGN_TYPES = frozenset(
    cls.event_type()
    for cls in (CampaignCreated, CampaignUpdated, CampaignOpened, CampaignClosed, CampaignArchived)
)
CATALOGUE_TYPES = CAMPAIGN_TYPES | {OutcomePublished.event_type()}
COMMENT_TYPES = frozenset(
    cls.event_type()
    for cls in (
        CommentSubmitted,
        CommentModerated,
        CommentPublished,
        CommentHidden,
        VoteCast,
        AppealFiled,
        AppealDecided,
        ParticipantErased,
    )
)
PARTICIPANT_TYPES = frozenset(
    cls.event_type()
    for cls in (ParticipantRegistered, ParticipantVerified, ParticipantErased, ResponseSubmitted)
)


def comment_changes(
    events: list[Event], support: Mapping[str, int] | None = None
) -> list[UpdateOne]:
    """The writes that bring the comments read model up to date with ``events`` (idempotent).

    ``support``: the votes already cast for submitted comments (none, but for a replay or a
    replica that projected a later vote first), written with the submission in the same update.
    """
    support = support or {}
    ops: list[UpdateOne] = []
    for event in events:
        match event:
            case CommentSubmitted(data=data):
                key = sort_key(event.time, data.comment_id)
                votes = support.get(data.comment_id, 0)
                ops.append(
                    UpdateOne(
                        {"_id": data.comment_id},
                        {
                            # a status event may have been applied first (replicas race)
                            "$setOnInsert": {"status": "pending", "status_at": stamp(event.time)},
                            "$set": {
                                "sort_key": key,
                                "support": votes,
                                "rank": rank(votes, key),
                                "campaign_id": event.subject,
                                "participant_id": data.participant_id,
                                "text": data.text,
                                "text_sha256": data.text_sha256,
                                "parent_id": data.parent_id,
                                "circle": data.circle,
                                "depth": data.depth,
                                "kind": data.kind,
                                "channel": data.channel,
                                "provenance": (
                                    data.provenance.model_dump() if data.provenance else None
                                ),
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
                if data.decision == "approve" and "duplicate" in data.reasons:
                    # a form letter's copy: published once, as its cluster, never on its own
                    clustered = {**decided, "status": "clustered", "cluster_id": data.cluster_id}
                    ops.append(status_change(data.comment_id, event.time, clustered))
                elif data.decision == "approve":
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
                        on_insert=_ranked(
                            sort_key(data.submitted_at or event.time, data.comment_id)
                        ),
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
            case AppealFiled(data=data):
                ops.append(
                    UpdateOne(
                        {"_id": data.comment_id},
                        {"$set": {"appeal_id": data.appeal_id, "appeal_status": "filed"}},
                    )
                )
            case AppealDecided(data=data):
                ops.append(
                    UpdateOne(
                        {"_id": data.comment_id},
                        {
                            "$set": {
                                "appeal_id": data.appeal_id,
                                "appeal_status": data.outcome,
                                "appeal_statement": data.statement,
                            }
                        },
                    )
                )
            case _:
                pass
    return ops


def _ranked(key: str) -> dict[str, object]:
    """A comment's ordering fields before anyone voted for it."""
    return {"sort_key": key, "support": 0, "rank": rank(0, key)}


def vote_changes(events: list[Event]) -> list[UpdateOne]:
    """One document per participant and target; a later vote replaces an earlier one."""
    return [
        UpdateOne(
            {"_id": e.data.vote_id, "cast_at": {"$lte": stamp(e.time)}},
            {
                "$set": {
                    "target_id": e.data.target_id,
                    "participant_id": e.data.participant_id,
                    "campaign_id": e.subject,
                    "value": e.data.value,
                    "cast_at": stamp(e.time),
                }
            },
            upsert=True,
        )
        for e in events
        if isinstance(e, VoteCast)
    ]


def participant_changes(
    events: list[Event],
) -> dict[str, list[UpdateOne | UpdateMany | DeleteOne | DeleteMany]]:
    """The writes per collection that bring participants, memberships and responses up to date."""
    ops: dict[str, list[UpdateOne | UpdateMany | DeleteOne | DeleteMany]] = {
        "participants": [],
        "memberships": [],
        "responses": [],
    }
    for event in events:
        match event:
            case ParticipantRegistered(data=data):
                ops["participants"].append(
                    UpdateOne(
                        {"_id": data.participant_id},
                        {
                            "$set": {
                                "kind": data.kind,
                                "source": data.source,
                                "medium": data.medium,
                                "campaign_id": data.campaign_id,
                                "invitation_id": data.invitation_id,
                                "contact_sealed": data.contact_sealed,
                                "consent_notifications": data.consent_notifications,
                                "consent_research": data.consent_research,
                                "profile": data.profile.model_dump() if data.profile else None,
                                "registered_at": stamp(event.time),
                            }
                        },
                        upsert=True,
                    )
                )
                ops["memberships"].extend(
                    _membership(data.participant_id, data.campaign_id, circle, "invitation")
                    for circle in data.circles
                )
            case ParticipantVerified(data=data):
                ops["memberships"].append(
                    _membership(data.participant_id, data.campaign_id, data.circle, data.method)
                )
            case ParticipantErased(data=data):
                who = data.participant_id
                ops["participants"].append(DeleteOne({"_id": who}))
                ops["memberships"].append(DeleteMany({"participant_id": who}))
                # contributions stay, without their author (what was said is the public record)
                ops["responses"].append(
                    UpdateMany({"participant_id": who}, {"$set": {"participant_id": None}})
                )
            case ResponseSubmitted(data=data):
                ops["responses"].append(
                    UpdateOne(
                        {"_id": data.response_id, "submitted_at": {"$lte": stamp(event.time)}},
                        {
                            "$set": {
                                "campaign_id": event.subject,
                                "participant_id": data.participant_id,
                                "answers": data.answers,
                                "circle": data.circle,
                                "channel": data.channel,
                                "submitted_at": stamp(event.time),
                            }
                        },
                        upsert=True,
                    )
                )
            case _:
                pass
    return ops


def _membership(participant_id: str, campaign_id: str | None, circle: str, how: str) -> UpdateOne:
    return UpdateOne(
        {"_id": derived_id("member", participant_id, campaign_id or "_", circle)},
        {
            "$set": {
                "participant_id": participant_id,
                "campaign_id": campaign_id,
                "circle": circle,
                "method": how,
            }
        },
        upsert=True,
    )


class Projector:
    def __init__(self, repository: IntakeRepository) -> None:
        self.repository = repository

    async def on_comment_events(self, events: list[Event]) -> None:
        repository = self.repository
        submitted = sorted(e.data.comment_id for e in events if isinstance(e, CommentSubmitted))
        support = await repository.support_of(submitted) if submitted else {}
        await repository.apply_comment_changes(comment_changes(events, support))
        erased = [e.data.participant_id for e in events if isinstance(e, ParticipantErased)]
        if erased:
            # in this consumer, after the participant's comments in stream order, so a replay
            # anonymises them too
            await repository.anonymise_author(erased)
        await repository.bulk("votes", vote_changes(events))
        # derived figures: support (and the "most supported" rank) and reply counts, recounted
        # for what this batch's votes touched, so redelivered or replayed votes never double
        # count (a submission carries its own, above)
        touched = {e.data.target_id for e in events if isinstance(e, VoteCast)}
        parents = {
            e.data.parent_id
            for e in events
            if isinstance(e, CommentPublished | CommentSubmitted) and e.data.parent_id
        }
        updates: list[UpdateOne] = []
        if touched:
            support = await repository.support_of(sorted(touched))
            keys = await repository.sort_keys(sorted(touched))
            updates.extend(
                UpdateOne(
                    {"_id": comment_id},
                    {
                        "$set": {
                            "support": support[comment_id],
                            "rank": rank(support[comment_id], key),
                        }
                    },
                )
                for comment_id, key in keys.items()
            )
        hidden_parents = {
            doc_parent
            for doc_parent in await repository.parents_of(
                [e.data.comment_id for e in events if isinstance(e, CommentHidden)]
            )
        }
        if parents | hidden_parents:
            counts = await repository.reply_counts(sorted(parents | hidden_parents))
            updates.extend(
                UpdateOne({"_id": parent}, {"$set": {"replies": n}}) for parent, n in counts.items()
            )
        await repository.apply_comment_changes(updates)

    async def on_participant_events(self, events: list[Event]) -> None:
        for name, ops in participant_changes(events).items():
            await self.repository.bulk(name, ops)

    async def on_catalogue_events(self, events: list[Event]) -> None:
        await self.on_campaign_events(events)
        await self.repository.save_outcomes([e for e in events if isinstance(e, OutcomePublished)])

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
