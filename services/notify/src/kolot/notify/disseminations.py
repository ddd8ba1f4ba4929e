"""Disseminations: a source of participants with its channel and spend (announced on the bus as
``dissemination.registered`` so metrics can price the funnel), invitation lists (CSV, consent
required, contacts sealed at rest), personal tracked links, and one-click unsubscribe."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode

from cryptography.fernet import InvalidToken

from kolot.common.contacts import ContactSealer
from kolot.common.events import (
    DisseminationRegistered,
    DisseminationRegisteredData,
    LinkClicked,
    LinkClickedData,
    Spend,
    derived_id,
    new_id,
    utcnow,
)
from kolot.common.store import stamp
from kolot.notify.delivery import Publisher
from kolot.notify.instruments import NotifyMetrics
from kolot.notify.models import LANGUAGES, Dissemination, Invitation, Language
from kolot.notify.repository import ContactRepository, DisseminationRepository

log = logging.getLogger(__name__)

INVITING_CHANNELS: frozenset[str] = frozenset({"email", "sms"})
"""The channels notify sends invitations on; other channels (press, paid social) are
registered for their spend and source only."""
MAX_ROWS = 100_000
MAX_REPORTED_ERRORS = 100
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9]{6,15}$")
YES = frozenset({"yes", "y", "true", "1", "x", "כן", "نعم", "agree", "agreed"})


class DisseminationNotFound(LookupError):
    pass


class RecipientListError(ValueError):
    """The list as a whole cannot be used (the message says why)."""


class LinkNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    """An e-mail address (lower case) or a phone number (digits, optional leading +)."""
    kind: Literal["email", "phone"]
    language: Language | None = None
    circle_invitation: str | None = None
    """A token intake issued (``POST /v1/campaigns/{id}/invitations``) for a closed circle."""


@dataclass(slots=True)
class RecipientList:
    recipients: list[Recipient] = field(default_factory=list)
    refused: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)

    def refuse(self, row: int, error: str) -> None:
        self.refused += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"row": row, "error": error})


def normalise(value: str, kind: Literal["email", "phone"]) -> str | None:
    value = value.strip()
    if kind == "email":
        value = value.lower()
        return value if EMAIL.match(value) and len(value) <= 254 else None
    value = re.sub(r"[\s\-().]", "", value)
    return value if PHONE.match(value) else None


def recipient_from(row: int, values: dict[str, str], *, channel: str, into: RecipientList) -> None:
    """Validate one row (already lower-cased keys) and add it to ``into`` or refuse it."""
    if values.get("consent", "").strip().lower() not in YES:
        into.refuse(row, "no consent")
        return
    kind: Literal["email", "phone"] = "email" if channel == "email" else "phone"
    raw = values.get(kind, "") or ""
    address = normalise(raw, kind)
    if address is None:
        into.refuse(row, f"no valid {kind}")
        return
    language = (values.get("language") or "").strip().lower() or None
    if language is not None and language not in LANGUAGES:
        into.refuse(row, f"language must be one of {', '.join(LANGUAGES)}")
        return
    circle_invitation = (values.get("circle_invitation") or "").strip() or None
    if circle_invitation is not None and len(circle_invitation) > 2048:
        into.refuse(row, "circle_invitation is longer than 2048 characters")
        return
    into.recipients.append(Recipient(address, kind, language, circle_invitation))


def parse_csv(body: bytes, *, channel: str) -> RecipientList:
    """A CSV list: a header row with ``consent`` and ``email`` (or ``phone`` for SMS), and
    optionally ``language`` and ``circle_invitation``; other columns (names...) are ignored and
    never stored."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecipientListError("the file must be UTF-8") from exc
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration as exc:
        raise RecipientListError("the file is empty") from exc
    except csv.Error as exc:
        raise RecipientListError(f"not a CSV file: {exc}") from exc
    needed = "email" if channel == "email" else "phone"
    for column in ("consent", needed):
        if column not in header:
            raise RecipientListError(f"the header row needs a {column!r} column")
    result = RecipientList()
    try:
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if number - 1 > MAX_ROWS:
                raise RecipientListError(f"at most {MAX_ROWS} rows per upload")
            recipient_from(number, dict(zip(header, row, strict=False)), channel=channel,
                           into=result)  # fmt: skip
    except csv.Error as exc:
        raise RecipientListError(f"not a CSV file: {exc}") from exc
    return result


class RecipientRefs:
    """Keyed hashes of addresses: a recipient is the same ref in every list and event, and the
    address cannot be recovered from it (nor guessed by hashing candidates without the key)."""

    def __init__(self, contact_keys: str) -> None:
        newest = contact_keys.split(",")[0].strip()
        self._key = hashlib.sha256(b"kolot-recipient-ref\0" + newest.encode()).digest()

    def __call__(self, address: str) -> str:
        return hmac.new(self._key, address.encode(), hashlib.sha256).hexdigest()[:32]


class DisseminationService:
    def __init__(
        self,
        *,
        repository: DisseminationRepository,
        contacts: ContactRepository,
        publisher: Publisher,
        sealer: ContactSealer,
        refs: RecipientRefs,
        public_url: str,
        clock: Callable[[], datetime] = utcnow,
        on_queued: Callable[[], None] = lambda: None,
        metrics: NotifyMetrics | None = None,
    ) -> None:
        self._metrics = metrics or NotifyMetrics()
        self._repository = repository
        self._contacts = contacts
        self._publisher = publisher
        self._sealer = sealer
        self._refs = refs
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self.on_queued = on_queued

    async def register(
        self,
        *,
        campaign_id: str,
        source: str,
        channel: str,
        spend: Spend | None,
        language: Language,
        created_by: str,
        recipients: RecipientList | None = None,
    ) -> Dissemination:
        dissemination = Dissemination(
            id=new_id(),
            campaign_id=campaign_id,
            source=source,
            channel=channel,
            spend_amount=None if spend is None else spend.amount,
            spend_currency=None if spend is None else spend.currency,
            language=language,
            created_by=created_by,
            created_at=stamp(self._clock()),
        )
        await self._repository.insert(dissemination)
        log.info("dissemination %s registered (%s, %s)", dissemination.id, source, channel)
        if recipients is not None:
            return await self.add_recipients(dissemination.id, recipients)
        await self.announce([dissemination])
        return dissemination

    async def get(self, dissemination_id: str) -> Dissemination:
        found = await self._repository.get(dissemination_id)
        if found is None:
            raise DisseminationNotFound(dissemination_id)
        return found

    async def recent(self, campaign_id: str | None, *, limit: int) -> list[Dissemination]:
        return await self._repository.recent(campaign_id, limit=limit)

    async def change_spend(self, dissemination_id: str, spend: Spend) -> Dissemination:
        """A campaign's spend grows as it runs: announced again, so the funnel's price follows."""
        if not await self._repository.set_spend(dissemination_id, spend.amount, spend.currency):
            raise DisseminationNotFound(dissemination_id)
        updated = await self.get(dissemination_id)
        await self.announce([updated])
        return updated

    async def progress(self, dissemination_id: str) -> dict[str, int]:
        await self.get(dissemination_id)
        return await self._repository.invitations.counts({"dissemination_id": dissemination_id})

    async def add_recipients(
        self, dissemination_id: str, recipients: RecipientList
    ) -> Dissemination:
        """Queue an invitation per new consenting recipient; the same address twice in one
        dissemination is invited once, and an address that unsubscribed is not invited again."""
        dissemination = await self.get(dissemination_id)
        unique = {self._refs(r.address): r for r in recipients.recipients}
        suppressed = await self._repository.suppressed(list(unique))
        now = stamp(self._clock())
        documents = [
            Invitation(
                id=derived_id(dissemination.id, ref),
                dissemination_id=dissemination.id,
                campaign_id=dissemination.campaign_id,
                source=dissemination.source,
                channel=dissemination.channel,
                token=secrets.token_urlsafe(16),
                contact_sealed=self._sealer.seal({recipient.kind: recipient.address}),
                recipient_ref=ref,
                circle_invitation_sealed=None
                if recipient.circle_invitation is None
                else self._sealer.seal({"token": recipient.circle_invitation}),
                language=recipient.language or dissemination.language,
                due_at=now,
                created_at=now,
            ).to_document()
            for ref, recipient in unique.items()
            if ref not in suppressed
        ]
        added = await self._repository.invitations.insert_new(documents)
        refused = recipients.refused + len(suppressed)
        await self._repository.count_recipients(dissemination.id, added=added, refused=refused)
        if added:
            self.on_queued()
        updated = await self.get(dissemination_id)
        await self.announce([updated])
        return updated

    async def announce(self, disseminations: Sequence[Dissemination]) -> None:
        """Publish each one's latest ``dissemination.registered``: its id derives from the
        revision, so announcing it again (after a crash, or by the sweep) is dropped."""
        if not disseminations:
            return
        events = [
            DisseminationRegistered(
                id=derived_id(d.id, "registered", str(d.revision)),
                subject=d.campaign_id,
                data=DisseminationRegisteredData(
                    dissemination_id=d.id,
                    source=d.source,
                    channel=d.channel,
                    spend=None
                    if d.spend_amount is None
                    else Spend(amount=d.spend_amount, currency=d.spend_currency or "ILS"),
                    recipients=d.recipients,
                ),
            )
            for d in disseminations
        ]
        try:
            await self._publisher.publish(*events)
        except Exception as exc:
            log.warning("dissemination announcements wait for the bus: %s", exc)
            return
        for d in disseminations:
            await self._repository.announced(d.id, d.revision)

    async def sweep(self) -> None:
        """Announce what a crash or a bus outage left unannounced."""
        await self.announce(await self._repository.unannounced(limit=200))

    async def click(self, token: str) -> str:
        """Where a tracked link leads; announces ``link.clicked`` (a failure to announce never
        stops the person: they are sent on, and the click is logged)."""
        invitation = await self._repository.invitation_by_token(token)
        if invitation is None:
            raise LinkNotFound(token)
        self._metrics.link_clicks.inc()
        event = LinkClicked(
            subject=invitation.campaign_id,
            data=LinkClickedData(
                link_id=invitation.token,
                invitation_id=invitation.id,
                dissemination_id=invitation.dissemination_id,
                source=invitation.source,
            ),
        )
        try:
            await self._publisher.publish(event)
        except Exception as exc:
            log.warning("link.clicked for invitation %s not announced: %s", invitation.id, exc)
        # ``ref`` attributes the visit to this invitation; ``invitation`` is what intake's
        # POST /v1/participants takes to join a closed circle
        parameters = {"source": invitation.source, "ref": invitation.id}
        if invitation.circle_invitation_sealed:
            try:
                parameters["invitation"] = self._sealer.open(invitation.circle_invitation_sealed)[
                    "token"
                ]
            except (InvalidToken, KeyError):
                log.error("invitation %s: its circle invitation does not open", invitation.id)
        query = urlencode(parameters)
        return f"{self._public_url}/campaigns/{invitation.campaign_id}?{query}"

    async def unsubscribe(self, token: str) -> bool:
        """One-click unsubscribe (RFC 8058) from a notification's or an invitation's link."""
        if await self._contacts.update_preferences(token, unsubscribed=True):
            return True
        invitation = await self._repository.invitation_by_token(token)
        if invitation is None:
            return False
        await self._repository.suppress(invitation.recipient_ref)
        return True
