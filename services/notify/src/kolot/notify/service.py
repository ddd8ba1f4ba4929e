"""Notify's domain logic for webhooks: subscriptions, the in-memory subscription list, and the
fan-out of public events into the deliveries outbox. No FastStream or HTTP here."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from cryptography.fernet import InvalidToken
from opentelemetry import propagate
from pymongo.errors import PyMongoError

from kolot.common.events import NO_CAMPAIGN, Event, new_id, utcnow
from kolot.common.store import stamp
from kolot.notify.delivery import AttemptResult, Sender
from kolot.notify.matching import plan_deliveries
from kolot.notify.models import Delivery, DeliveryStatus, Subscription
from kolot.notify.replay import Page
from kolot.notify.repository import DeliveryRepository, SubscriptionRepository
from kolot.notify.targets import Resolver, check_target, resolve
from kolot.notify.webhooks import CANNOT_SIGN, SecretSealer, new_secret, signed_headers

log = logging.getLogger(__name__)


class SubscriptionNotFound(LookupError):
    """No such subscription, or it belongs to another integrator (the two look the same)."""


class NewSecret(NamedTuple):
    """A subscription as stored (its secret sealed) and its new secret in clear: what the
    ministry is shown once, on creation or rotation, and never again."""

    subscription: Subscription
    secret: str


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
        secrets: SecretSealer,
        allowed_hosts: Collection[str],
        resolver: Resolver = resolve,
        require_https: bool = False,
        rotation_overlap: float = 24 * 3600.0,
        on_resumed: Callable[[], None] = lambda: None,
    ) -> None:
        self._subscriptions = subscriptions
        self._deliveries = deliveries
        self._cache = cache
        self._secrets = secrets
        self._allowed_hosts = allowed_hosts
        self._resolver = resolver
        self._require_https = require_https
        self._rotation_overlap = rotation_overlap
        self._on_resumed = on_resumed

    async def create(
        self,
        *,
        owner: str,
        url: str,
        event_types: Sequence[str],
        campaign_id: str | None = None,
        description: str | None = None,
    ) -> NewSecret:
        """Raises ``TargetRefused`` for a URL a webhook may not call (see ``targets``)."""
        url = url.strip()
        await check_target(
            url,
            allowed_hosts=self._allowed_hosts,
            resolver=self._resolver,
            require_https=self._require_https,
        )
        secret = new_secret()
        subscription = Subscription(
            id=new_id(),
            url=url,
            event_types=list(event_types),
            campaign_id=campaign_id,
            description=description,
            secret_sealed=self._secrets.seal(secret),
            owner=owner,
            created_at=utcnow(),
        )
        await self._subscriptions.insert(subscription)
        await self._cache.refresh()
        log.info("webhook subscription %s created for %s", subscription.id, event_types)
        return NewSecret(subscription, secret)

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
        before: tuple[datetime, str] | None = None,
    ) -> list[Delivery]:
        await self.get(subscription_id, owner=owner)
        return await self._deliveries.log(
            subscription_id, limit=limit, status=status, before=before
        )

    async def get(self, subscription_id: str, *, owner: str | None) -> Subscription:
        found = await self._subscriptions.get(subscription_id, owner=owner)
        if found is None:
            raise SubscriptionNotFound(subscription_id)
        return found

    async def _update(
        self, current: Subscription, changes: dict[str, Any], *, owner: str | None
    ) -> Subscription:
        """Write ``changes``; a legacy document's clear secrets are sealed by the same write."""
        if current.legacy_secret is not None or current.legacy_previous_secret is not None:
            changes = {**self._sealed_legacy(current), **changes}
            log.info("subscription %s: its secrets, stored in clear, are now sealed", current.id)
        updated = await self._subscriptions.update(
            current.id, changes, owner=owner, unset=Subscription.LEGACY_FIELDS
        )
        if updated is None:
            raise SubscriptionNotFound(current.id)
        await self._cache.refresh()
        return updated

    def _sealed_legacy(self, current: Subscription) -> dict[str, Any]:
        sealed: dict[str, Any] = {}
        if current.legacy_secret is not None and current.secret_sealed is None:
            sealed["secret_sealed"] = self._secrets.seal(current.legacy_secret)
        if current.legacy_previous_secret is not None and current.previous_secret_sealed is None:
            sealed["previous_secret_sealed"] = self._secrets.seal(current.legacy_previous_secret)
        return sealed

    async def rotate_secret(self, subscription_id: str, *, owner: str | None) -> NewSecret:
        """A new secret; the current one keeps signing beside it for the overlap period."""
        current = await self.get(subscription_id, owner=owner)
        until = utcnow() + timedelta(seconds=self._rotation_overlap)
        try:
            # opened and sealed again: with the newest key, whichever sealed it
            previous: str | None = self._secrets.seal(self._secrets.current(current))
        except InvalidToken:
            # it cannot sign any more (its key was removed): keeping it would fail every
            # delivery of the overlap, so a rotation is also the way out
            log.warning("subscription %s: %s; rotated without an overlap", current.id, CANNOT_SIGN)
            previous = None
        secret = new_secret()
        updated = await self._update(
            current,
            {
                "secret_sealed": self._secrets.seal(secret),
                "previous_secret_sealed": previous,
                "previous_secret_until": stamp(until) if previous else None,
            },
            owner=owner,
        )
        if previous:
            log.info("subscription %s: secret rotated; the old one signs until %s", updated.id,
                     updated.previous_secret_until)  # fmt: skip
        return NewSecret(updated, secret)

    async def pause(self, subscription_id: str, *, owner: str | None) -> Subscription:
        current = await self.get(subscription_id, owner=owner)
        return await self._update(
            current,
            {"state": "paused", "state_reason": "paused", "state_changed_at": stamp(utcnow())},
            owner=owner,
        )

    async def resume(self, subscription_id: str, *, owner: str | None) -> Subscription:
        """Active again (after a pause or an automatic disable): what waited is sent."""
        current = await self.get(subscription_id, owner=owner)
        updated = await self._update(
            current,
            {
                "state": "active",
                "state_reason": None,
                "state_changed_at": stamp(utcnow()),
                "consecutive_failures": 0,
            },
            owner=owner,
        )
        self._on_resumed()
        return updated

    async def test(self, subscription_id: str, *, owner: str | None, send: Sender) -> AttemptResult:
        """Send a signed ``kolot.webhook.test`` CloudEvent now (not recorded, not retried)."""
        subscription = await self.get(subscription_id, owner=owner)
        now = utcnow()
        event_id = new_id()
        event = {
            "specversion": "1.0",
            "id": event_id,
            "source": "kolot/notify",
            "type": "kolot.webhook.test",
            "subject": subscription.campaign_id or NO_CAMPAIGN,
            "time": now.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "dataschemaversion": 1,
            "data": {"subscription_id": subscription.id},
        }
        body = json.dumps(event, separators=(",", ":"))
        try:
            signing = self._secrets.signing_secrets(subscription, now=now)
        except InvalidToken:
            log.error("subscription %s: %s; test not sent", subscription.id, CANNOT_SIGN)
            return AttemptResult(None, CANNOT_SIGN, 0.0)
        headers = signed_headers(secret=signing, message_id=event_id, body=body, at=now)
        return await send(subscription.url, body, headers)

    async def replay(
        self,
        subscription_id: str,
        *,
        owner: str | None,
        read: Callable[..., Awaitable[Page]],
        from_sequence: int | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
    ) -> tuple[str, Page, int]:
        """Deliver again what KOLOT_PUBLIC holds from a sequence or a time (one page of it):
        (replay id, the page read, deliveries recorded)."""
        subscription = await self.get(subscription_id, owner=owner)
        page = await read(from_sequence=from_sequence, since=since, until=until, limit=limit)
        replay_id = new_id()
        planned = plan_deliveries([subscription], page.events, now=utcnow(), replay_id=replay_id)
        recorded = await self._deliveries.insert_new(planned)
        if recorded:
            self._on_resumed()
        log.info(
            "subscription %s: replay %s scanned %d events, %d to deliver",
            subscription.id, replay_id, page.scanned, recorded,
        )  # fmt: skip
        return replay_id, page, recorded


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
        # the consumer's span is current here: receivers can join the event's trace
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        planned = plan_deliveries(
            subscriptions, events, now=utcnow(), traceparent=carrier.get("traceparent")
        )
        inserted = await self._deliveries.insert_new(planned)
        if inserted:
            self._on_recorded()
        return inserted
