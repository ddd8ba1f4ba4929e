"""Retention in notify (docs/privacy.md); erasure itself is the planner's (``notifications``).

On ``campaign.purged`` notify deletes what it holds about people for that consultation: who
wrote which comment (``authorship``), the notifications planned or sent about it, and the
invitations of its disseminations (sealed contacts, personal tracked links, sealed circle
invitations). The disseminations keep their counts and spend; unsubscribes (keyed references,
never contacts) are kept, since an opt-out must outlive any consultation; the delivery log of
ministries' webhooks holds public events only and stays.

It runs in the participants consumer, after that consumer's own batch, so a replay deletes again
what it re-projects.
"""

from __future__ import annotations

from collections.abc import Sequence

from kolot.common.bus import ConsumerSpec, Streams, also_reading
from kolot.common.events import CampaignPurged, Event
from kolot.notify.repository import AUTHORSHIP, INVITATIONS, NOTIFICATIONS, DatabaseProvider


class Retention:
    def __init__(self, database: DatabaseProvider) -> None:
        self._database = database

    async def purge(self, events: Sequence[Event]) -> None:
        purged = [e.subject for e in events if isinstance(e, CampaignPurged)]
        if not purged:
            return
        db = self._database()
        of = {"campaign_id": {"$in": purged}}
        for name in (AUTHORSHIP, NOTIFICATIONS, INVITATIONS):
            await db[name].delete_many(of)


def purging(spec: ConsumerSpec, streams: Streams, retention: Retention) -> ConsumerSpec:
    """The participants consumer, also reading purges and applying them after its batch."""
    return also_reading(
        spec,
        [streams.events_subject("campaign", "purged")],
        {CampaignPurged.event_type()},
        retention.purge,
    )
