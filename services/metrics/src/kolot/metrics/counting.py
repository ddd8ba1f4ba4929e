"""How events move the per-campaign counters: pure functions, no I/O.

Each event adds to counters of its campaign (``event.subject``; ``_`` for events of no campaign,
such as most participant registrations). The counters are dotted paths into that campaign's
document in ``campaign_counters``; a batch is summed per campaign so it costs one write each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from kolot.common.events import (
    CommentFlagged,
    CommentHidden,
    CommentModerated,
    CommentPublished,
    CommentSubmitted,
    Event,
    ParticipantRegistered,
    ResponseSubmitted,
    VisitRecorded,
    VoteCast,
)

DIRECT = "direct"
"""The source of a visit or participant that came without attribution."""

MAX_KEY_LENGTH = 64

# Sources come from citizens' requests (a link's ?source=...), so they are untrusted text that
# becomes a MongoDB field name (no ".", no leading "$") and a Prometheus label value: keep word
# characters (any script) and "-", fold the rest to "_", and cap the length.
_UNSAFE = re.compile(r"[^\w\-]+")

_MODERATION_COUNTERS = {"reject": "comments.rejected", "review": "comments.review"}


def source_key(raw: str | None) -> str:
    """The counter key of an attribution source: lower case, safe as a field name and a label."""
    key = _UNSAFE.sub("_", (raw or "").strip().lower())[:MAX_KEY_LENGTH].strip("_")
    return key or DIRECT


def event_key(event: Event) -> str:
    """``kolot.comment.submitted`` -> ``comment_submitted`` (field names may not contain ".")."""
    return f"{event.entity}_{event.action}"


def increments(event: Event) -> dict[str, int]:
    """The counters one event adds 1 to, as dotted paths into its campaign's document."""
    paths = [f"events.{event_key(event)}"]
    match event:
        case CommentSubmitted():
            paths.append("comments.submitted")
        case CommentPublished():
            paths.append("comments.published")
        case CommentModerated():
            # approvals are counted when the comment is published; a later decision on the same
            # comment (a reviewed item, an appeal) counts again, hence pending's floor at 0
            if counter := _MODERATION_COUNTERS.get(event.data.decision):
                paths.append(counter)
        case CommentHidden():
            paths.append("comments.hidden")
        case CommentFlagged():
            paths.append("flags")
        case VisitRecorded():
            paths.append(f"visits.{source_key(event.data.attribution.source)}")
        case ParticipantRegistered():
            paths.append(f"participants.{source_key(event.data.source)}")
        case ResponseSubmitted():
            paths.append("responses")
        case VoteCast():
            # votes cast: a participant who changes a vote casts it again
            paths.append("votes")
    return dict.fromkeys(paths, 1)


@dataclass
class CampaignDelta:
    """What one batch adds to one campaign's counters."""

    campaign_id: str
    first_event_at: datetime
    last_event_at: datetime
    inc: dict[str, int] = field(default_factory=dict)


def tally(events: Iterable[Event]) -> list[CampaignDelta]:
    """Sum the increments of a batch per campaign, in order of first appearance."""
    deltas: dict[str, CampaignDelta] = {}
    for event in events:
        at = event.time
        delta = deltas.get(event.subject)
        if delta is None:
            delta = deltas[event.subject] = CampaignDelta(
                event.subject, first_event_at=at, last_event_at=at
            )
        for path, n in increments(event).items():
            delta.inc[path] = delta.inc.get(path, 0) + n
        delta.first_event_at = min(delta.first_event_at, at)
        delta.last_event_at = max(delta.last_event_at, at)
    return list(deltas.values())
