"""The delivery worker: sends the deliveries outbox to the subscribers' endpoints.

It polls for due deliveries (and is woken at once when this process records new ones), claims
each one atomically with a lease, so two replicas never send the same delivery at the same time
and the claims of a process that died expire, and sends up to ``webhook_concurrency`` at once, so
one slow endpoint holds up only its own deliveries. A failed attempt is retried with exponential
backoff and full jitter until ``webhook_max_attempts``; the final outcome is announced on the bus
as ``WebhookDelivered`` or ``WebhookFailed``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.fernet import InvalidToken

from kolot.common.events import (
    Event,
    WebhookDelivered,
    WebhookDeliveryData,
    WebhookFailed,
    derived_id,
    new_id,
    utcnow,
)
from kolot.common.store import stamp
from kolot.notify.backoff import Uniform, retry_delay
from kolot.notify.batching import GroupCommit
from kolot.notify.instruments import NotifyMetrics
from kolot.notify.models import Delivery, Subscription
from kolot.notify.repository import DeliveryRepository, SubscriptionRepository
from kolot.notify.settings import NotifySettings
from kolot.notify.webhooks import CANNOT_SIGN, SecretSealer, signed_headers

log = logging.getLogger(__name__)

OUTCOME_SWEEP_INTERVAL = 15.0
CANDIDATES = 256
"""Due deliveries read per query."""
SUBSCRIPTIONS_TTL = 1.0
BACKLOG_RELOAD = 5.0
CLAIM_GATHER = 0.003
"""Seconds to wait after a slot frees before claiming, for other slots to free as well."""
"""Seconds between looks for final outcomes whose event did not reach the bus (it was down)."""


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender(Protocol):
    async def __call__(self, url: str, body: str, headers: Mapping[str, str]) -> AttemptResult: ...


class Publisher(Protocol):
    async def publish(self, *events: Event) -> None: ...


DeadLetter = Callable[[Delivery], Awaitable[None]]
"""Puts a delivery that failed for good on KOLOT_DLQ (the CloudEvent, with the error)."""


async def _no_dead_letters(_: Delivery) -> None:
    return None


def outcome_event(delivery: Delivery, *, subscription_disabled: bool | None = None) -> Event:
    """The event announcing a delivery's final outcome; its id is derived from the delivery, so
    announcing it again (after a crash, or by the sweep) is dropped as a duplicate."""
    data = WebhookDeliveryData(
        subscription_id=delivery.subscription_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        attempt=delivery.attempts,
        status_code=delivery.last_status_code,
        error=delivery.last_error,
        duration_ms=delivery.last_duration_ms,
        subscription_disabled=subscription_disabled,
    )
    if subscription_disabled:
        # the notice that a run of failures disabled the subscription: one per disabling
        return WebhookFailed(
            id=derived_id(delivery.id, "disabled", str(delivery.attempts)),
            subject=delivery.campaign_id,
            data=data,
        )
    if delivery.status == "delivered":
        return WebhookDelivered(
            id=derived_id(delivery.id, "delivered"), subject=delivery.campaign_id, data=data
        )
    return WebhookFailed(
        id=derived_id(delivery.id, "failed"), subject=delivery.campaign_id, data=data
    )


class DeliveryWorker:
    def __init__(
        self,
        settings: NotifySettings,
        *,
        deliveries: DeliveryRepository,
        subscriptions: SubscriptionRepository,
        secrets: SecretSealer,
        publisher: Publisher,
        clock: Callable[[], datetime] = utcnow,
        uniform: Uniform = random.uniform,
        dead_letter: DeadLetter = _no_dead_letters,
        metrics: NotifyMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics or NotifyMetrics()
        self._dead_letter = dead_letter
        self._per_endpoint: dict[str, int] = {}
        self._candidates: deque[Delivery] = deque()
        self._refill = True
        self._refilled_at = float("-inf")
        self._more_due = False
        self._known_subscriptions: dict[str, Subscription | None] = {}
        self._subscriptions_read_at = float("-inf")
        self._results = GroupCommit(deliveries.compare_and_set_many)
        """Attempts finishing together record their results in one write."""
        self._announcements = GroupCommit(self._announce_batch)
        self._failing: set[str] = set()
        """Subscriptions with a failure counted by this process since their last success."""
        self._deliveries = deliveries
        self._subscriptions = subscriptions
        self._secrets = secrets
        self._publisher = publisher
        self._clock = clock
        self._uniform = uniform
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._last_sweep = float("-inf")
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{new_id()[-12:]}"
        """Who holds a claim: written on the delivery for operators."""

    def wake(self) -> None:
        """New deliveries were recorded: look for due ones now rather than at the next poll."""
        self._refill = True
        self._wake.set()

    async def run(self, send: Sender) -> None:
        """Deliver until cancelled; then let the attempts in flight finish (within the attempt
        timeout) so their results are recorded, and give back those that do not."""
        try:
            while True:
                self._wake.clear()
                more = False
                try:
                    await self._sweep_outcomes()
                    more = await self._start_due(send)
                except Exception as exc:
                    # the store or the bus is away: keep the loop alive and try again later
                    log.warning("webhook delivery poll failed: %s", exc, exc_info=exc)
                if more:
                    await asyncio.sleep(0)
                    continue
                await self._idle()
        finally:
            await self._stop()

    async def _idle(self) -> None:
        """Wait for the next poll, a wake-up, or a free slot."""
        waiter = asyncio.create_task(self._wake.wait())
        try:
            done, _ = await asyncio.wait(
                {waiter, *self._in_flight},
                timeout=self._settings.webhook_poll_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            waiter.cancel()
            with suppress(asyncio.CancelledError):
                await waiter
        if done and waiter not in done:
            # a slot freed: let the attempts finishing about now free theirs too, so one claim
            # fills several slots rather than one write per slot
            await asyncio.sleep(CLAIM_GATHER)

    async def _stop(self) -> None:
        """Let attempts in flight finish within their timeout; give back the rest at once."""
        if not self._in_flight:
            return
        _, pending = await asyncio.wait(self._in_flight, timeout=self._settings.webhook_timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _start_due(self, send: Sender) -> bool:
        """Claim due deliveries for the free slots and start them; True if more may be due.

        Due deliveries are read a page at a time into a local list of candidates, and claimed
        from it as slots free up: the query for due deliveries is the expensive part, so it runs
        when something new may be due (a wake-up, the poll interval, a full page used up), not
        once per finished attempt. A candidate that changed since it was read (claimed by another
        replica, rescheduled, cancelled) fails its claim and is dropped.
        """
        free = self._settings.webhook_concurrency - len(self._in_flight)
        if free <= 0:
            return False
        now = self._clock()
        elapsed = time.monotonic() - self._refilled_at
        if (
            self._refill
            or (
                not self._candidates
                and (self._more_due or elapsed >= self._settings.webhook_poll_interval)
            )
            # while a backlog is worked through, look again now and then for retries come due
            or elapsed >= max(self._settings.webhook_poll_interval, BACKLOG_RELOAD)
        ):
            await self._load_candidates(now)
        if not self._candidates:
            return False
        lease_until = now + timedelta(seconds=self._settings.webhook_lease)
        limit = self._settings.webhook_endpoint_concurrency
        taken: dict[str, int] = {}
        chosen: list[Delivery] = []
        deferred: list[Delivery] = []
        while self._candidates and len(chosen) < free:
            delivery = self._candidates.popleft()
            endpoint = delivery.subscription_id
            if self._per_endpoint.get(endpoint, 0) + taken.get(endpoint, 0) >= limit:
                deferred.append(delivery)  # this endpoint has enough in flight: later
                continue
            chosen.append(delivery)
            taken[endpoint] = taken.get(endpoint, 0) + 1
        # one round trip claims them all; those another replica claimed first (or that changed
        # since they were read) come back None
        results = await self._deliveries.compare_and_set_many(
            [
                (
                    delivery,
                    {
                        "status": "sending",
                        "attempts": delivery.attempts + 1,
                        "lease_owner": self.owner,
                        "lease_expires_at": lease_until,
                        "next_attempt_at": lease_until,
                        "last_attempt_at": now,
                    },
                )
                for delivery in chosen
            ]
        )
        claimed = [mine for mine in results if mine is not None]
        self._candidates.extendleft(reversed(deferred))
        if claimed:
            subscriptions = await self._subscriptions_of(
                list({delivery.subscription_id for delivery in claimed})
            )
            for delivery in claimed:
                subscription = subscriptions.get(delivery.subscription_id)
                task = asyncio.create_task(
                    self._attempt(delivery, subscription, send=send), name=f"webhook-{delivery.id}"
                )
                self._track(task, delivery.subscription_id)
        return len(chosen) == free and len(self._candidates) > len(deferred)

    async def _load_candidates(self, now: datetime) -> None:
        self._refill = False
        self._refilled_at = time.monotonic()
        held = await self._subscriptions.held_ids()
        page = max(CANDIDATES, self._settings.webhook_concurrency * 4)
        due = await self._deliveries.due(now=now, limit=page, held=held)
        self._candidates = deque(due)
        self._more_due = len(due) == page

    async def _subscriptions_of(self, ids: list[str]) -> dict[str, Subscription]:
        """The subscriptions, read at most once a second: a pause or a rotation takes effect
        within a second, and the store is not read once per attempt."""
        if time.monotonic() - self._subscriptions_read_at >= SUBSCRIPTIONS_TTL:
            self._known_subscriptions = {}
            self._subscriptions_read_at = time.monotonic()
        missing = [i for i in ids if i not in self._known_subscriptions]
        if missing:
            found = await self._subscriptions.get_many(missing)
            for subscription_id in missing:
                self._known_subscriptions[subscription_id] = found.get(subscription_id)
        return {i: sub for i in ids if (sub := self._known_subscriptions.get(i)) is not None}

    def _track(self, task: asyncio.Task[None], endpoint: str) -> None:
        self._in_flight.add(task)
        self._per_endpoint[endpoint] = self._per_endpoint.get(endpoint, 0) + 1

        def done(finished: asyncio.Task[None]) -> None:
            self._in_flight.discard(finished)
            left = self._per_endpoint.get(endpoint, 1) - 1
            if left > 0:
                self._per_endpoint[endpoint] = left
            else:
                self._per_endpoint.pop(endpoint, None)

        task.add_done_callback(done)

    async def _attempt(
        self, delivery: Delivery, subscription: Subscription | None, *, send: Sender
    ) -> None:
        """One attempt of a claimed delivery; ``delivery`` is as the claim wrote it."""
        try:
            changes = await self._try_once(delivery, subscription, send=send)
            finished = await self._results.submit(
                (delivery, {**changes, "lease_owner": None, "lease_expires_at": None})
            )
        except asyncio.CancelledError:
            # stopping mid-attempt: the receiver may or may not have it; send it again soon
            # (the webhook-id lets the receiver drop the duplicate)
            await self._deliveries.compare_and_set(
                delivery,
                {
                    "status": "pending",
                    "next_attempt_at": self._clock(),
                    "lease_owner": None,
                    "lease_expires_at": None,
                },
            )
            raise
        except Exception as exc:
            # the lease expires and the delivery is tried again
            log.exception("webhook delivery %s could not be recorded", delivery.id, exc_info=exc)
            return
        if finished is None:
            log.warning("webhook delivery %s: lease lost before its result was stored", delivery.id)
            return
        if finished.pending_event:
            await self._announcements.submit(finished)
        if subscription is not None and finished.last_attempt_at is not None:
            await self._count(finished, subscription)

    async def _count(self, delivery: Delivery, subscription: Subscription) -> None:
        """Count the attempt towards the endpoint's run of failures; disable it at the limit."""
        try:
            if delivery.status == "delivered":
                # a write only when there is a run to end (a success is the common case)
                if subscription.consecutive_failures or subscription.id in self._failing:
                    self._failing.discard(subscription.id)
                    await self._subscriptions.record_success(subscription.id)
                return
            self._failing.add(subscription.id)
            failures = await self._subscriptions.record_failure(subscription.id)
            if failures < self._settings.webhook_disable_after:
                return
            reason = f"{failures} failed attempts in a row; last: {delivery.last_error}"
            if await self._subscriptions.disable(
                subscription.id, reason=reason, at=stamp(self._clock())
            ):
                log.warning("webhook subscription %s disabled: %s", subscription.id, reason)
                self._metrics.webhooks_disabled.inc()
                await self._publisher.publish(outcome_event(delivery, subscription_disabled=True))
        except Exception as exc:
            log.warning("could not count webhook attempt %s: %s", delivery.id, exc)

    async def _try_once(
        self, delivery: Delivery, subscription: Subscription | None, *, send: Sender
    ) -> dict[str, Any]:
        settings = self._settings
        if subscription is None:
            return {
                "status": "cancelled",
                "next_attempt_at": None,
                "completed_at": self._clock(),
                "last_error": "subscription deleted",
            }
        if subscription.state != "active":
            # paused or disabled since it was claimed: back to waiting, the attempt unspent
            return {
                "status": "pending",
                "attempts": delivery.attempts - 1,
                "next_attempt_at": self._clock(),
                "last_attempt_at": None,
            }
        if delivery.attempts > settings.webhook_max_attempts:
            # its last attempt was claimed by a process that died
            return self._final("failed", last_error="no attempts left after an interrupted attempt")
        now = self._clock()
        try:
            # opened here, in memory only, for this attempt
            signing = self._secrets.signing_secrets(subscription, now=now)
        except InvalidToken:
            # never sent unsigned: a failed attempt, retried (the key may be put back) and
            # finally dead-lettered like any other
            log.error("webhook %s not sent: %s", delivery.id, CANNOT_SIGN)
            result = AttemptResult(None, CANNOT_SIGN, 0.0)
        else:
            headers = signed_headers(
                secret=signing,
                message_id=delivery.event_id,
                body=delivery.event,
                at=now,
                traceparent=delivery.traceparent,
            )
            try:
                result = await send(subscription.url, delivery.event, headers)
            except Exception as exc:  # a Sender reports errors in its result; this is a bug
                log.exception("webhook sender failed on %s", delivery.id, exc_info=exc)
                result = AttemptResult(None, f"{type(exc).__name__}: {exc}", 0.0)
            self._metrics.webhook_seconds.observe(result.duration_ms / 1000)
        outcome: dict[str, Any] = {
            "last_status_code": result.status_code,
            "last_error": result.error,
            "last_duration_ms": round(result.duration_ms, 3),
        }
        final = result.ok or delivery.attempts >= settings.webhook_max_attempts
        self._metrics.webhook_attempts.labels(
            "delivered" if result.ok else "failed" if final else "retry"
        ).inc()
        if result.ok:
            log.debug("webhook %s delivered (attempt %d)", delivery.id, delivery.attempts)
            return self._final("delivered", **outcome)
        if delivery.attempts >= settings.webhook_max_attempts:
            log.warning("webhook %s failed for good: %s", delivery.id, result.error)
            return self._final("failed", **outcome)
        delay = retry_delay(
            delivery.attempts,
            base=settings.webhook_backoff_base,
            cap=settings.webhook_backoff_cap,
            uniform=self._uniform,
        )
        log.info(
            "webhook %s attempt %d failed (%s); retrying in %.1fs",
            delivery.id,
            delivery.attempts,
            result.error,
            delay,
        )
        return {
            **outcome,
            "status": "pending",
            "next_attempt_at": self._clock() + timedelta(seconds=delay),
        }

    def _final(self, status: str, **fields: Any) -> dict[str, Any]:
        return {
            **fields,
            "status": status,
            "next_attempt_at": None,
            "completed_at": self._clock(),
            "pending_event": True,
        }

    async def _announce_batch(self, deliveries: list[Delivery]) -> list[None]:
        await self._announce(deliveries)
        return [None] * len(deliveries)

    async def _announce(self, deliveries: list[Delivery]) -> None:
        try:
            for delivery in deliveries:
                if delivery.status == "failed":
                    await self._dead_letter(delivery)
            await self._publisher.publish(*(outcome_event(d) for d in deliveries))
            await self._deliveries.events_published([d.id for d in deliveries])
        except Exception as exc:
            # the sweep announces them later; their derived ids make a repeat harmless
            log.warning("could not announce %d webhook outcomes: %s", len(deliveries), exc)

    async def _sweep_outcomes(self) -> None:
        started = time.monotonic()
        if started - self._last_sweep < OUTCOME_SWEEP_INTERVAL:
            return
        self._last_sweep = started
        waiting = await self._deliveries.with_pending_event(limit=500)
        if waiting:
            await self._announce(waiting)
