"""The stats a campaign's counters answer: pure functions, no I/O."""

from __future__ import annotations

from kolot.metrics.models import CampaignCounters, CommentCounts
from kolot.metrics.schemas import CampaignStatsPublic, CommentStatsPublic, FunnelSourcePublic


def pending(comments: CommentCounts) -> int:
    """Comments awaiting a final decision.

    Never below 0: published or rejected may run ahead of submitted while consumers catch up, and
    a comment decided twice (review, then approve; an appeal) counts twice.
    """
    return max(0, comments.submitted - comments.published - comments.rejected)


def conversion(*, visits: int, participants: int) -> float | None:
    return participants / visits if visits > 0 else None


def funnel(counters: CampaignCounters) -> dict[str, FunnelSourcePublic]:
    steps: dict[str, FunnelSourcePublic] = {}
    for source in sorted(counters.visits.keys() | counters.participants.keys()):
        visits = counters.visits.get(source, 0)
        participants = counters.participants.get(source, 0)
        steps[source] = FunnelSourcePublic(
            visits=visits,
            participants=participants,
            conversion=conversion(visits=visits, participants=participants),
            # spend comes with the dissemination events (issue 6)
            spend=None,
            cost_per_response=None,
        )
    return steps


def campaign_stats(counters: CampaignCounters) -> CampaignStatsPublic:
    comments = counters.comments
    return CampaignStatsPublic(
        campaign_id=counters.campaign_id,
        comments=CommentStatsPublic(
            submitted=comments.submitted,
            published=comments.published,
            rejected=comments.rejected,
            pending=pending(comments),
            review=comments.review,
            hidden=comments.hidden,
        ),
        funnel=funnel(counters),
        responses=counters.responses,
        votes=counters.votes,
        flags=counters.flags,
        events_counted=sum(counters.events.values()),
        first_event_at=counters.first_event_at,
        last_event_at=counters.last_event_at,
        updated_at=counters.updated_at,
    )
