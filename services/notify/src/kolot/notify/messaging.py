"""The message worker: sends due notifications (one message per participant: a single item, or a
daily digest of several) and invitations, within the providers' rate limits.

Each message is claimed with a lease (two replicas never send the same one; a dead replica's
claims expire), its sealed contact is opened only to build the message, and the outcome is
recorded: sent, bounced (the provider refused the recipient for good: never retried), retried
with backoff after a passing failure, or failed after ``messages_max_attempts``. Results are
announced as ``notification.sent`` / ``notification.failed`` and ``invitation.sent``, with ids
derived from the message, so announcing again after a crash changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Literal

from cryptography.fernet import InvalidToken

from kolot.common.contacts import ContactSealer
from kolot.common.events import (
    Event,
    InvitationSent,
    InvitationSentData,
    NotificationData,
    NotificationFailed,
    NotificationSent,
    derived_id,
    utcnow,
)
from kolot.common.store import Document, stamp
from kolot.notify.backoff import retry_delay
from kolot.notify.channels import Bounce, Mailer, RateLimiter, SmsProvider
from kolot.notify.delivery import Publisher
from kolot.notify.disseminations import DisseminationService
from kolot.notify.instruments import NotifyMetrics
from kolot.notify.models import Contact, Invitation, Language, Notification
from kolot.notify.repository import ContactRepository, Outbox
from kolot.notify.settings import NotifySettings
from kolot.notify.templates import Item, Rendered, item, render

log = logging.getLogger(__name__)

BATCH = 50
SENDS_AT_ONCE = 8
LEASE_SECONDS = 120.0
SWEEP_EVERY = 15.0


class SendOutcome:
    SENT = "sent"
    BOUNCED = "bounced"
    RETRY = "retry"


def email_message(
    *,
    sender: str,
    to: str,
    rendered: Rendered,
    language: Language,
    unsubscribe_url: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="kolot")
    message["Content-Language"] = language
    # RFC 8058: mail clients offer a one-click unsubscribe that POSTs to the https URL
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


class MessageWorker:
    def __init__(
        self,
        settings: NotifySettings,
        *,
        contacts: ContactRepository,
        notifications: Outbox,
        invitations: Outbox,
        disseminations: DisseminationService,
        sealer: ContactSealer,
        mailer: Mailer,
        sms: SmsProvider,
        publisher: Publisher,
        clock: Callable[[], datetime] = utcnow,
        metrics: NotifyMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics or NotifyMetrics()
        self._contacts = contacts
        self._notifications = notifications
        self._invitations = invitations
        self._disseminations = disseminations
        self._sealer = sealer
        self._mailer = mailer
        self._sms = sms
        self._publisher = publisher
        self._clock = clock
        self._limits = {
            "email": RateLimiter(settings.email_rate),
            "sms": RateLimiter(settings.sms_rate),
        }
        self._slots = asyncio.Semaphore(SENDS_AT_ONCE)
        self._wake = asyncio.Event()
        self._last_sweep = float("-inf")
        self._notify_url = settings.notify_url.rstrip("/")

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            more = False
            try:
                await self._sweep()
                more = await self.send_due()
            except Exception as exc:
                log.warning("message poll failed: %s", exc, exc_info=exc)
            if more:
                continue
            with suppress(TimeoutError):
                async with asyncio.timeout(self._settings.messages_poll_interval):
                    await self._wake.wait()

    async def send_due(self) -> bool:
        """Send one round of due messages; True if more may be due."""
        now = self._clock()
        lease = stamp(now + timedelta(seconds=LEASE_SECONDS))
        notifications = await self._notifications.due(now=stamp(now), limit=BATCH)
        invitations = await self._invitations.due(now=stamp(now), limit=BATCH)
        jobs: list[tuple[Any, Outbox, list[Document]]] = []
        digests: dict[str, list[Document]] = defaultdict(list)
        for doc in notifications:
            claimed = await self._notifications.claim(doc, lease_until=lease)
            if claimed is None:
                continue
            if claimed.get("digest"):
                # a participant's digest items due together become one message
                digests[claimed["participant_id"]].append(claimed)
            else:
                job = self._notify(claimed["participant_id"], [claimed])
                jobs.append((job, self._notifications, [claimed]))
        for pid, docs in digests.items():
            jobs.append((self._notify(pid, docs), self._notifications, docs))
        for doc in invitations:
            claimed = await self._invitations.claim(doc, lease_until=lease)
            if claimed is not None:
                jobs.append((self._invite(claimed), self._invitations, [claimed]))
        await asyncio.gather(*(self._bounded(*job) for job in jobs))
        return len(notifications) == BATCH or len(invitations) == BATCH

    async def _bounded(self, job: Any, outbox: Outbox, docs: list[Document]) -> None:
        started = False
        try:
            async with self._slots:
                started = True
                await job
        except asyncio.CancelledError:
            if not started:
                # stopping before it was tried: give it back now rather than at the lease's end
                job.close()
                with suppress(Exception):
                    for doc in docs:
                        await outbox.finish(
                            doc,
                            {
                                "status": "pending",
                                "attempts": doc["attempts"] - 1,
                                "due_at": stamp(self._clock()),
                            },
                        )
            raise
        except Exception as exc:  # its lease expires and it is tried again
            log.exception("sending a message failed unexpectedly", exc_info=exc)

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_sweep < SWEEP_EVERY:
            return
        self._last_sweep = loop.time()
        await self._disseminations.sweep()
        for outbox, build in (
            (self._notifications, self._notification_event),
            (self._invitations, self._invitation_event),
        ):
            waiting = await outbox.with_pending_event(limit=500)
            if waiting:
                await self._announce(outbox, [build(doc) for doc in waiting], waiting)

    # --- sending --------------------------------------------------------------------------

    async def _deliver(
        self,
        channel: Literal["email", "sms"],
        address: str,
        rendered: Rendered,
        language: Language,
        unsubscribe_url: str,
    ) -> tuple[str, str | None]:
        """(outcome, error)."""
        await self._limits[channel].acquire()
        try:
            if channel == "email":
                await self._mailer.send(
                    email_message(
                        sender=self._settings.mail_from,
                        to=address,
                        rendered=rendered,
                        language=language,
                        unsubscribe_url=unsubscribe_url,
                    )
                )
            else:
                await self._sms.send(address, rendered.sms)
        except Bounce as exc:
            return SendOutcome.BOUNCED, str(exc)[:300]
        except Exception as exc:
            return SendOutcome.RETRY, f"{type(exc).__name__}: {exc}"[:300]
        return SendOutcome.SENT, None

    def _after(
        self, doc: Document, outcome: str, error: str | None, channel: str | None
    ) -> Document:
        changes = self._changes_after(doc, outcome, error, channel)
        kind = "invitation" if "dissemination_id" in doc else "notification"
        status = changes["status"]
        self._metrics.messages.labels(
            kind, channel or "none", "retry" if status == "pending" else status
        ).inc()
        return changes

    def _changes_after(
        self, doc: Document, outcome: str, error: str | None, channel: str | None
    ) -> Document:
        now = self._clock()
        if outcome == SendOutcome.SENT:
            return {"status": "sent", "sent_at": stamp(now), "channel": channel, "error": None,
                    "pending_event": True}  # fmt: skip
        if outcome == SendOutcome.BOUNCED:
            return {"status": "bounced", "error": error, "channel": channel, "pending_event": True}
        if doc["attempts"] >= self._settings.messages_max_attempts:
            return {"status": "failed", "error": error, "channel": channel, "pending_event": True}
        delay = retry_delay(doc["attempts"], base=30.0, cap=3600.0, uniform=random.uniform)
        return {
            "status": "pending",
            "error": error,
            "due_at": stamp(now + timedelta(seconds=delay)),
        }

    @staticmethod
    def _address(contact: dict[str, str]) -> tuple[Literal["email", "sms"], str] | None:
        if contact.get("email"):
            return "email", contact["email"]
        if contact.get("phone"):
            return "sms", contact["phone"]
        return None

    def _open(self, sealed: str) -> dict[str, str] | None:
        try:
            return self._sealer.open(sealed)
        except InvalidToken:
            log.error("a sealed contact does not open with KOLOT_CONTACT_KEYS (key removed?)")
            return None

    async def _notify(self, participant_id: str, docs: list[Document]) -> None:
        found = await self._contacts.get_many([participant_id])
        contact: Contact | None = found.get(participant_id)
        opened = None if contact is None else self._open(contact.contact_sealed)
        reach = None if opened is None else self._address(opened)
        if contact is None or not contact.consent or contact.unsubscribed or reach is None:
            # erased, withdrawn or unreachable since it was planned: nothing is sent
            for doc in docs:
                await self._notifications.finish(doc, {"status": "skipped", "error": "no consent"})
                self._metrics.messages.labels("notification", "none", "skipped").inc()
            return
        channel, address = reach
        language = contact.language
        notes = [Notification.from_document(doc) for doc in docs]
        entries: list[Item] = [item(n.template, language, n.params) for n in notes]
        rendered = render(
            entries if channel == "email" else entries[:1],
            language=language,
            unsubscribe_url=f"{self._notify_url}/v1/unsubscribe/{contact.token}",
            preferences_url=f"{self._notify_url}/v1/preferences/{contact.token}",
        )
        sent: list[Document] = []
        if channel == "sms" and len(docs) > 1:
            # an SMS carries one item; the others follow in their own messages
            sent_docs, rest = docs[:1], docs[1:]
            for doc in rest:
                await self._notifications.finish(
                    doc,
                    {
                        "status": "pending",
                        "attempts": doc["attempts"] - 1,
                        "due_at": stamp(self._clock()),
                    },
                )
            docs = sent_docs
        outcome, error = await self._deliver(
            channel,
            address,
            rendered,
            language,
            f"{self._notify_url}/v1/unsubscribe/{contact.token}",
        )
        for doc in docs:
            changes = self._after(doc, outcome, error, channel)
            if await self._notifications.finish(doc, changes):
                sent.append({**doc, **changes})
        final = [d for d in sent if d.get("pending_event")]
        if final:
            await self._announce(
                self._notifications, [self._notification_event(d) for d in final], final
            )

    async def _invite(self, doc: Document) -> None:
        invitation = Invitation.from_document(doc)
        opened = self._open(invitation.contact_sealed)
        reach = None if opened is None else self._address(opened)
        if reach is None:
            await self._invitations.finish(
                doc, {"status": "skipped", "error": "no address", "contact_sealed": ""}
            )
            self._metrics.messages.labels("invitation", "none", "skipped").inc()
            return
        channel, address = reach
        link = f"{self._notify_url}/r/{invitation.token}"
        unsubscribe_url = f"{self._notify_url}/v1/unsubscribe/{invitation.token}"
        rendered = render(
            [item("invitation", invitation.language, {"link": link})],
            language=invitation.language,
            unsubscribe_url=unsubscribe_url,
            invitation=True,
        )
        outcome, error = await self._deliver(
            channel, address, rendered, invitation.language, unsubscribe_url
        )
        changes = self._after(doc, outcome, error, channel)
        if changes["status"] != "pending":
            # data minimisation: once the invitation is out (or never will be), the address is
            # of no further use; the recipient_ref still keeps unsubscribes and duplicates apart
            changes["contact_sealed"] = ""
        if await self._invitations.finish(doc, changes) and outcome == SendOutcome.SENT:
            final = {**doc, **changes}
            await self._announce(self._invitations, [self._invitation_event(final)], [final])
        elif outcome == SendOutcome.BOUNCED:
            log.info("invitation %s bounced: %s", invitation.id, error)

    # --- announcements ----------------------------------------------------------------------

    def _notification_event(self, doc: Document) -> Event:
        data = NotificationData(
            notification_id=doc["_id"],
            channel="sms" if doc.get("channel") == "sms" else "email",
            template=doc["template"],
            participant_id=doc["participant_id"],
            error=doc.get("error"),
        )
        if doc["status"] == "sent":
            return NotificationSent(
                id=derived_id(doc["_id"], "sent"), subject=doc["campaign_id"], data=data
            )
        return NotificationFailed(
            id=derived_id(doc["_id"], "failed"), subject=doc["campaign_id"], data=data
        )

    def _invitation_event(self, doc: Document) -> Event:
        return InvitationSent(
            id=derived_id(doc["_id"], "sent"),
            subject=doc["campaign_id"],
            data=InvitationSentData(
                invitation_id=doc["_id"],
                dissemination_id=doc["dissemination_id"],
                source=doc["source"],
                channel=doc.get("channel") or doc["source"],
                recipient_ref=doc["recipient_ref"],
            ),
        )

    async def _announce(self, outbox: Outbox, events: list[Event], docs: list[Document]) -> None:
        # a bounced or failed invitation is recorded, not announced: metrics counts sent ones
        wanted = [
            (event, doc)
            for event, doc in zip(events, docs, strict=True)
            if not (outbox is self._invitations and doc["status"] != "sent")
        ]
        try:
            if wanted:
                await self._publisher.publish(*(event for event, _ in wanted))
            await outbox.events_published([doc["_id"] for doc in docs])
        except Exception as exc:
            log.warning("could not announce %d message results: %s", len(docs), exc)
