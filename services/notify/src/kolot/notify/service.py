"""Notify's domain logic for webhooks: subscriptions, the in-memory subscription list, and the
fan-out of public events into the deliveries outbox. No FastStream or HTTP here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager, suppress

from pymongo.errors import PyMongoError

from kolot.common.events import Event, new_id, utcnow
from kolot.notify.matching import plan_deliveries
from kolot.notify.models import Delivery, DeliveryStatus, Subscription
from kolot.notify.repository import DeliveryRepository, SubscriptionRepository
from kolot.notify.targets import Resolver, check_target, resolve
from kolot.notify.webhooks import new_secret

log = logging.getLogger(__name__)


class SubscriptionNotFound(LookupError):
    """No such subscription, or it belongs to another integrator (the two look the same)."""


class SubscriptionCache:
    """The subscriptions, in memory: the consumer matches every public event against them.

    Loaded on first use, refreshed every few seconds (other replicas create and delete too) and at
    once after a change made in this process.
    """

    def __init__(self, repository: SubscriptionRepository) -> None:
        self._repository = repository
        self._subscriptions: list[Subscription] | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> list[Subscription]:
        if self._subscriptions is None:
            await self.refresh()
        assert self._subscriptions is not None
        return self._subscriptions

    async def refresh(self) -> None:
        # serialised, so a slow older read can never overwrite a newer one
        async with self._lock:
            self._subscriptions = await self._repository.all()

    @asynccontextmanager
    async def refreshing(self, *, interval: float) -> AsyncIterator[None]:
        """Keep refreshing every ``interval`` seconds in the background until the context exits."""
        task = asyncio.create_task(self._refresh_forever(interval), name="subscriptions-refresh")
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _refresh_forever(self, interval: float) -> None:
        while True:
            try:
                await self.refresh()
            except PyMongoError as exc:
                log.warning("could not refresh the webhook subscriptions: %s", exc)
            await asyncio.sleep(interval)


class SubscriptionService:
    def __init__(
        self,
        *,
        subscriptions: SubscriptionRepository,
        deliveries: DeliveryRepository,
        cache: SubscriptionCache,
        allowed_hosts: Collection[str],
        resolver: Resolver = resolve,
    ) -> None:
        self._subscriptions = subscriptions
        self._deliveries = deliveries
        self._cache = cache
        self._allowed_hosts = allowed_hosts
        self._resolver = resolver

    async def create(
        self,
        *,
        owner: str,
        url: str,
        event_types: Sequence[str],
        campaign_id: str | None = None,
        description: str | None = None,
    ) -> Subscription:
        """Raises ``TargetRefused`` for a URL a webhook may not call (see ``targets``)."""
        url = url.strip()
        await check_target(url, allowed_hosts=self._allowed_hosts, resolver=self._resolver)
        subscription = Subscription(
            id=new_id(),
            url=url,
            event_types=list(event_types),
            campaign_id=campaign_id,
            description=description,
            secret=new_secret(),
            owner=owner,
            created_at=utcnow(),
        )
        await self._subscriptions.insert(subscription)
        await self._cache.refresh()
        log.info("webhook subscription %s created for %s", subscription.id, event_types)
        return subscription

    async def visible_to(self, owner: str | None) -> list[Subscription]:
        """``owner`` None: every subscription (admin)."""
        return await self._subscriptions.by_owner(owner)

    async def delete(self, subscription_id: str, *, owner: str | None) -> None:
        if not await self._subscriptions.delete(subscription_id, owner=owner):
            raise SubscriptionNotFound(subscription_id)
        # deliveries in flight finish; the worker cancels those it claims later
        cancelled = await self._deliveries.cancel_pending(subscription_id)
        await self._cache.refresh()
        log.info("subscription %s deleted, %d deliveries cancelled", subscription_id, cancelled)

    async def deliveries(
        self,
        subscription_id: str,
        *,
        owner: str | None,
        limit: int,
        status: DeliveryStatus | None = None,
    ) -> list[Delivery]:
        if await self._subscriptions.get(subscription_id, owner=owner) is None:
            raise SubscriptionNotFound(subscription_id)
        return await self._deliveries.log(subscription_id, limit=limit, status=status)


class EventFanout:
    """Turns public events into pending deliveries: an outbox, so no HTTP call ever holds up the
    bus. Idempotent: a redelivered event maps to the same delivery ids, which are stored once."""

    def __init__(
        self,
        *,
        cache: SubscriptionCache,
        deliveries: DeliveryRepository,
        on_recorded: Callable[[], None] = lambda: None,
    ) -> None:
        self._cache = cache
        self._deliveries = deliveries
        self._on_recorded = on_recorded

    async def record(self, events: Sequence[Event]) -> int:
        subscriptions = await self._cache.current()
        planned = plan_deliveries(subscriptions, events, now=utcnow())
        inserted = await self._deliveries.insert_new(planned)
        if inserted:
            self._on_recorded()
        return inserted
