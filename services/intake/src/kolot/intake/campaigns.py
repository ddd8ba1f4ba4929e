"""Campaign state kept in memory in every replica, so the request path never reads the store.

Each replica replays ``campaign.*`` events from the stream into a dict with an ordered,
ephemeral JetStream consumer (campaign events are few), and applies its own changes at once
(read-your-writes for the admin). An id not in memory is looked up once in the store, since a
limits-retention stream may have aged out old campaign events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from kolot.common.events import CampaignSnapshot

log = logging.getLogger(__name__)

Loader = Callable[[str], Awaitable[CampaignSnapshot | None]]


class CampaignDirectory:
    def __init__(self, loader: Loader, *, negative_ttl: float = 2.0) -> None:
        self._campaigns: dict[str, CampaignSnapshot] = {}
        self._loader = loader
        self._missing: dict[str, float] = {}
        self._negative_ttl = negative_ttl

    def apply(self, snapshot: CampaignSnapshot) -> None:
        current = self._campaigns.get(snapshot.campaign_id)
        if (
            current
            and current.updated_at
            and snapshot.updated_at
            and snapshot.updated_at < current.updated_at
        ):
            return
        self._campaigns[snapshot.campaign_id] = snapshot
        self._missing.pop(snapshot.campaign_id, None)

    def known(self, campaign_id: str) -> CampaignSnapshot | None:
        return self._campaigns.get(campaign_id)

    async def get(self, campaign_id: str) -> CampaignSnapshot | None:
        found = self._campaigns.get(campaign_id)
        if found is not None:
            return found
        # unknown ids are remembered briefly, so a flood of made-up ids cannot hammer the store
        if time.monotonic() < self._missing.get(campaign_id, 0.0):
            return None
        found = await self._loader(campaign_id)
        if found is None:
            if len(self._missing) > 100_000:
                self._missing.clear()
            self._missing[campaign_id] = time.monotonic() + self._negative_ttl
            return None
        self.apply(found)
        return found

    def routing(
        self, *, keyword: str | None = None, short_code: str | None = None
    ) -> list[CampaignSnapshot]:
        """Live (not archived) campaigns that an inbound message's keyword or short code names."""
        return [
            c
            for c in self._campaigns.values()
            if c.status != "archived"
            and (
                (keyword is not None and c.keyword == keyword)
                or (short_code is not None and c.short_code == short_code)
            )
        ]

    def due(self, now: datetime) -> list[tuple[CampaignSnapshot, str]]:
        """Campaigns whose scheduled opening or closing time has come, with "open" or "close"."""
        due: list[tuple[CampaignSnapshot, str]] = []
        for campaign in self._campaigns.values():
            if campaign.status == "draft" and campaign.opens_at and campaign.opens_at <= now:
                if not campaign.closes_at or campaign.closes_at > now:
                    due.append((campaign, "open"))
            elif campaign.status == "open" and campaign.closes_at and campaign.closes_at <= now:
                due.append((campaign, "close"))
        return due

    def __len__(self) -> int:
        return len(self._campaigns)
