"""Disseminations and participant notifications end to end: a real NATS, a real nx-27017 and a
real SMTP server (aiosmtpd) on a free port.

An admin registers a dissemination (announced for metrics), uploads a list (consent required,
contacts sealed at rest), invitations reach the SMTP server with tracked links that redirect and
are counted; participants who consented hear of replies, decisions and outcomes in their
language, right to left where it should be, and can leave with one click.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from nats.js.api import ConsumerConfig, DeliverPolicy

from kolot.common.auth import Role
from kolot.common.bus import jetstream
from kolot.common.contacts import ContactSealer
from kolot.common.events import (
    AppealDecided,
    AppealDecidedData,
    CommentModerated,
    CommentModeratedData,
    CommentPublished,
    CommentPublishedData,
    CommentSubmitted,
    CommentSubmittedData,
    LocalizedText,
    OutcomePublished,
    OutcomePublishedData,
    ParticipantErased,
    ParticipantErasedData,
    ParticipantRegistered,
    ParticipantRegisteredData,
    new_id,
)
from kolot.common.runtime import Runtime
from kolot.common.settings import DEV_CONTACT_KEYS
from kolot.common.store import create_mongo_client
from kolot.notify.app import create_app
from kolot.notify.repository import CONTACTS, INVITATIONS, NOTIFICATIONS
from kolot.notify.settings import NotifySettings
from tests.conftest import running_app, staff_headers
from tests.integration.notify.test_notify_webhooks import eventually

pytestmark = pytest.mark.integration

ADMIN = staff_headers(Role.ADMIN)
SEALER = ContactSealer(DEV_CONTACT_KEYS)


class Mailbox:
    """An aiosmtpd handler: keeps every message; refuses recipients at ``bounce.example`` for
    good (550) and, while ``tempfail`` is positive, answers 451 to the next messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.tempfail = 0
        self.hold = False
        """While True, messages are not answered (a relay that hangs)."""
        self.waiting = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, _: list[str]
    ) -> str:
        if address.endswith("@bounce.example"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.waiting += 1
        while self.hold:
            await asyncio.sleep(0.01)
        self.waiting -= 1
        if self.tempfail > 0:
            self.tempfail -= 1
            return "451 4.3.0 try again later"
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def settings(
    make_settings: Callable[..., NotifySettings], mailbox: tuple[Mailbox, int]
) -> NotifySettings:
    _, port = mailbox
    return make_settings(
        NotifySettings,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_timeout=5,
        email_rate=200,
        messages_poll_interval=0.05,
        public_url="https://kolot.test",
        notify_url="https://notify.kolot.test",
    )


@pytest.fixture
async def notify(settings: NotifySettings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    app = create_app(settings)
    async with running_app(app) as client:
        yield client, app.state.runtime


async def events_of(runtime: Runtime, event_type: str, campaign: str = "*") -> list[dict[str, Any]]:
    """Every event of a type in the events stream (an ephemeral consumer, from the start)."""
    _, entity, action = event_type.split(".")
    js = jetstream(runtime.broker)
    subject = runtime.streams.events_subject(entity, action, campaign)
    info = await js.stream_info(runtime.streams.name("events"))
    sub = await js.pull_subscribe(
        subject,
        stream=runtime.streams.name("events"),
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    found: list[dict[str, Any]] = []
    try:
        while info.state.messages:
            try:
                batch = await sub.fetch(500, timeout=0.3)
            except TimeoutError:
                break
            found += [json.loads(m.data) for m in batch]
    finally:
        await sub.unsubscribe()
    return found


async def register(
    runtime: Runtime,
    participant: str,
    contact: dict[str, str] | None,
    *,
    consent: bool = True,
) -> None:
    await runtime.publisher.publish(
        ParticipantRegistered(
            data=ParticipantRegisteredData(
                participant_id=participant,
                has_contact=contact is not None,
                consent_notifications=consent,
                contact_sealed=None if contact is None else SEALER.seal(contact),
            )
        )
    )


async def submitted(
    runtime: Runtime, campaign: str, participant: str, parent: str | None = None
) -> str:
    comment = new_id()
    await runtime.publisher.publish(
        CommentSubmitted(
            subject=campaign,
            data=CommentSubmittedData(
                comment_id=comment,
                participant_id=participant,
                text="טקסט",
                text_sha256="0" * 64,
                parent_id=parent,
            ),
        )
    )
    return comment


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None, "a plain-text part"
    assert html is not None, "an HTML part"
    return text.get_content(), html.get_content()


def unsubscribe_url(message: EmailMessage) -> str:
    # a long header may be folded over lines
    return "".join(str(message["List-Unsubscribe"]).split()).removeprefix("<").removesuffix(">")


# --- disseminations ----------------------------------------------------------------------------


async def test_registering_a_dissemination_announces_its_source_channel_and_spend(
    notify: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, runtime = notify
    response = await client.post(
        "/v1/disseminations",
        json={
            "campaign_id": "camp-ads",
            "source": "facebook",
            "channel": "paid_social",
            "spend": {"amount": 10000, "currency": "ILS"},
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["spend"] == {"amount": 10000.0, "currency": "ILS"}

    async def announced() -> bool:
        return bool(await events_of(runtime, "kolot.dissemination.registered", "camp-ads"))

    await eventually(announced)
    [event] = await events_of(runtime, "kolot.dissemination.registered", "camp-ads")
    assert event["subject"] == "camp-ads"
    assert event["data"] == {
        "dissemination_id": created["id"],
        "source": "facebook",
        "channel": "paid_social",
        "spend": {"amount": 10000.0, "currency": "ILS"},
        "recipients": 0,
    }
    listed = await client.get("/v1/disseminations?campaign_id=camp-ads", headers=ADMIN)
    assert [d["id"] for d in listed.json()["items"]] == [created["id"]]

    # the spend grows as the campaign runs: announced again
    changed = await client.patch(
        f"/v1/disseminations/{created['id']}",
        json={"spend": {"amount": 12500.5, "currency": "ILS"}},
        headers=ADMIN,
    )
    assert changed.status_code == 200, changed.text

    async def reannounced() -> bool:
        events = await events_of(runtime, "kolot.dissemination.registered", "camp-ads")
        return len(events) == 2

    await eventually(reannounced)
    latest = (await events_of(runtime, "kolot.dissemination.registered", "camp-ads"))[-1]
    assert latest["data"]["spend"] == {"amount": 12500.5, "currency": "ILS"}
    missing = await client.patch(
        "/v1/disseminations/nope", json={"spend": {"amount": 1}}, headers=ADMIN
    )
    assert missing.status_code == 404


async def test_a_csv_list_is_invited_with_tracked_links_and_consent_is_required(
    notify: tuple[httpx.AsyncClient, Runtime], mailbox: tuple[Mailbox, int]
) -> None:
    client, runtime = notify
    inbox, _ = mailbox
    created = await client.post(
        "/v1/disseminations",
        json={"campaign_id": "camp-mail", "source": "newsletter", "channel": "email",
              "language": "ar"},
        headers=ADMIN,
    )  # fmt: skip
    dissemination = created.json()["id"]
    csv_body = (
        "name,email,consent,language\n"
        "Dana,dana@example.org,yes,he\n"
        "Omar,omar@example.org,نعم,\n"
        "Nope,nope@example.org,no,en\n"
        "Broken,not-an-address,yes,en\n"
        "Dana again,DANA@example.org,yes,he\n"
        "Gone,ghost@bounce.example,yes,en\n"
    ).encode()
    response = await client.post(
        f"/v1/disseminations/{dissemination}/recipients",
        content=csv_body,
        headers={**ADMIN, "content-type": "text/csv"},
    )
    assert response.status_code == 202, response.text
    body = response.json()
    # dana twice is one recipient; no consent and a bad address are refused and reported
    assert (body["recipients"], body["refused"]) == (3, 2)
    assert {e["row"]: e["error"] for e in body["errors"]} == {4: "no consent", 5: "no valid email"}

    await eventually(lambda: len(inbox.messages) == 2)

    async def progressed() -> bool:
        progress = (await client.get(f"/v1/disseminations/{dissemination}", headers=ADMIN)).json()
        return progress["progress"]["sent"] == 2 and progress["progress"]["bounced"] == 1

    await eventually(progressed)

    # no address in clear in notify's store, and none kept at all once the invitation is out
    stored = [doc async for doc in runtime.db[INVITATIONS].find({})]
    assert len(stored) == 3
    assert "example" not in json.dumps(stored, default=str)
    assert [doc["contact_sealed"] for doc in stored] == ["", "", ""]
    assert len({doc["recipient_ref"] for doc in stored}) == 3

    [omar] = inbox.to("omar@example.org")
    text, html = parts(omar)
    assert '<html lang="ar" dir="rtl">' in html
    assert "https://notify.kolot.test/r/" in text
    [dana] = inbox.to("dana@example.org")
    assert '<html lang="he" dir="rtl">' in parts(dana)[1]
    assert dana["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # invitation.sent per sent recipient, with a keyed hash and never the address
    sent = await events_of(runtime, "kolot.invitation.sent", "camp-mail")
    assert len(sent) == 2
    assert "example.org" not in json.dumps(sent)
    assert all(len(e["data"]["recipient_ref"]) == 32 for e in sent)

    # the tracked link: 302 to the consultation, link.clicked on the bus
    token = text.split("https://notify.kolot.test/r/")[1].split()[0]
    clicked = await client.get(f"/r/{token}", follow_redirects=False)
    assert clicked.status_code == 302
    assert clicked.headers["location"].startswith(
        "https://kolot.test/campaigns/camp-mail?source=newsletter&ref="
    )
    exposed = (await client.get("/metrics")).text
    assert 'kolot_messages_total{channel="email",kind="invitation",outcome="sent"} 2.0' in exposed
    assert (
        'kolot_messages_total{channel="email",kind="invitation",outcome="bounced"} 1.0' in exposed
    )
    assert "kolot_link_clicks_total 1.0" in exposed
    clicks = await events_of(runtime, "kolot.link.clicked", "camp-mail")
    assert [(c["data"]["dissemination_id"], c["data"]["source"]) for c in clicks] == [
        (dissemination, "newsletter")
    ]
    assert (await client.get("/r/no-such-token")).status_code == 404

    # the announcement follows the list: metrics sees how many were invited
    async def recounted() -> bool:
        events = await events_of(runtime, "kolot.dissemination.registered", "camp-mail")
        return bool(events) and events[-1]["data"]["recipients"] == 3

    await eventually(recounted)


async def test_an_unsubscribed_recipient_is_not_invited_again(
    notify: tuple[httpx.AsyncClient, Runtime], mailbox: tuple[Mailbox, int]
) -> None:
    client, _ = notify
    inbox, _ = mailbox

    async def invite(source: str) -> str:
        created = await client.post(
            "/v1/disseminations",
            json={"campaign_id": "camp-u", "source": source, "channel": "email",
                  "recipients": [{"email": "rina@example.org", "consent": True}]},
            headers=ADMIN,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    await invite("first")
    await eventually(lambda: len(inbox.to("rina@example.org")) == 1)
    [message] = inbox.to("rina@example.org")
    url = unsubscribe_url(message)
    assert url.startswith("https://notify.kolot.test/v1/unsubscribe/")
    one_click = await client.post(
        url.removeprefix("https://notify.kolot.test"),
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200, one_click.text

    second = await invite("second")
    detail = (await client.get(f"/v1/disseminations/{second}", headers=ADMIN)).json()
    assert (detail["recipients"], detail["refused"]) == (0, 1)
    await asyncio.sleep(0.3)
    assert len(inbox.to("rina@example.org")) == 1


async def test_bad_lists_and_bodies_are_refused(notify: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, _ = notify
    email_one = await client.post(
        "/v1/disseminations",
        json={"campaign_id": "camp-bad", "source": "list", "channel": "email"},
        headers=ADMIN,
    )
    press = await client.post(
        "/v1/disseminations",
        json={"campaign_id": "camp-bad", "source": "radio", "channel": "press"},
        headers=ADMIN,
    )
    email_id, press_id = email_one.json()["id"], press.json()["id"]
    cases = [
        (email_id, b"email,name\na@b.org,x\n", "text/csv", 422),  # no consent column
        (email_id, b"\xff\xfe\x00bad", "text/csv", 422),
        (email_id, b"", "text/csv", 422),
        (email_id, b"{}", "application/json", 422),
        (email_id, b"<xml/>", "application/xml", 415),
        (press_id, b"email,consent\na@b.org,yes\n", "text/csv", 422),  # press sends nothing
        ("no-such-dissemination", b"email,consent\n", "text/csv", 404),
    ]
    for target, content, media_type, status in cases:
        response = await client.post(
            f"/v1/disseminations/{target}/recipients",
            content=content,
            headers={**ADMIN, "content-type": media_type},
        )
        assert response.status_code == status, (content, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    refused = await client.post(
        "/v1/disseminations",
        json={"campaign_id": "c", "source": "s", "channel": "email",
              "spend": {"amount": -5}},
        headers=ADMIN,
    )  # fmt: skip
    assert refused.status_code == 422
    as_integrator = await client.post(
        "/v1/disseminations",
        json={"campaign_id": "c", "source": "s", "channel": "email"},
        headers=staff_headers(Role.INTEGRATOR),
    )
    assert as_integrator.status_code == 403


# --- participant notifications ----------------------------------------------------------------


async def test_participants_hear_of_replies_decisions_appeals_and_outcomes(
    notify: tuple[httpx.AsyncClient, Runtime], mailbox: tuple[Mailbox, int]
) -> None:
    _client, runtime = notify
    inbox, _ = mailbox
    await register(runtime, "p-author", {"email": "author@example.org"})
    await register(runtime, "p-replier", {"email": "replier@example.org"})
    await register(runtime, "p-silent", {"email": "silent@example.org"}, consent=False)
    outcome = OutcomePublished(
        subject="camp-n",
        data=OutcomePublishedData(
            outcome_id="o1",
            summary=LocalizedText(he="שמענו אתכם: התקנה תוקנה.", en="We heard you."),
            decisions=[LocalizedText(he="סעיף 4 בוטל.")],
        ),
    )
    mine = await submitted(runtime, "camp-n", "p-author")
    await submitted(runtime, "camp-n", "p-silent")
    reply = await submitted(runtime, "camp-n", "p-replier", parent=mine)
    await runtime.publisher.publish(
        CommentModerated(
            subject="camp-n",
            data=CommentModeratedData(
                comment_id=mine,
                decision="reject",
                automatic=False,
                statement="ההערה כוללת פרטים אישיים של אדם אחר.",
                redacted_text="...",
                language="he",
                moderator="m1",
            ),
        ),
        CommentPublished(
            subject="camp-n",
            data=CommentPublishedData(
                comment_id=reply, text="אני מסכים <b>לגמרי</b>", parent_id=mine
            ),
        ),
        AppealDecided(
            subject="camp-n",
            data=AppealDecidedData(
                appeal_id="a1", comment_id=mine, outcome="overturned", statement="טעינו, סליחה."
            ),
        ),
        outcome,
    )

    # author: decision, reply, appeal and outcome; replier: the outcome; silent: nothing
    await eventually(lambda: len(inbox.to("author@example.org")) == 4)
    await eventually(lambda: len(inbox.to("replier@example.org")) == 1)
    await asyncio.sleep(0.3)
    assert inbox.to("silent@example.org") == []

    by_subject = {m["Subject"]: m for m in inbox.to("author@example.org")}
    decision_text, decision_html = parts(by_subject["החלטה על ההערה שלך"])
    assert "ההערה כוללת פרטים אישיים של אדם אחר." in decision_text
    assert '<html lang="he" dir="rtl">' in decision_html
    _, reply_html = parts(by_subject["תגובה חדשה להערה שלך"])
    assert "&lt;b&gt;לגמרי&lt;/b&gt;" in reply_html  # people's text is escaped
    assert "טעינו, סליחה." in parts(by_subject["החלטה בערעור שלך"])[0]
    outcome_text, _ = parts(by_subject["מה קרה עם מה שאמרת"])
    assert "שמענו אתכם: התקנה תוקנה." in outcome_text
    assert "סעיף 4 בוטל." in outcome_text

    sent = await events_of(runtime, "kolot.notification.sent", "camp-n")
    assert sorted(e["data"]["template"] for e in sent) == sorted(
        ["decision", "reply", "appeal", "outcome", "outcome"]
    )
    assert "example.org" not in json.dumps(sent)
    # sealed at rest: the store never holds the address in clear
    stored = [doc async for doc in runtime.db[CONTACTS].find({})]
    assert stored
    assert "example.org" not in json.dumps(stored, default=str)

    # the same event again under another message id: the stream keeps both copies, and the
    # consumer plans nothing twice
    await runtime.broker.publish(
        outcome.to_json(),
        subject=outcome.subject_for(runtime.streams.namespace, "events"),
        headers={"Nats-Msg-Id": new_id()},
        stream=runtime.streams.name("events"),
    )
    await asyncio.sleep(1.0)
    assert len(inbox.to("author@example.org")) == 4


async def test_one_click_unsubscribe_daily_digest_and_erasure(
    notify: tuple[httpx.AsyncClient, Runtime], mailbox: tuple[Mailbox, int]
) -> None:
    client, runtime = notify
    inbox, _ = mailbox
    await register(runtime, "p-one", {"email": "one@example.org"})
    first = await submitted(runtime, "camp-d", "p-one")
    moderated = CommentModerated(
        subject="camp-d",
        data=CommentModeratedData(
            comment_id=first, decision="reject", automatic=True, statement="spam",
            redacted_text="x", language="en",
        ),
    )  # fmt: skip
    await runtime.publisher.publish(moderated)
    await eventually(lambda: len(inbox.to("one@example.org")) == 1)
    [message] = inbox.to("one@example.org")
    assert '<html lang="en" dir="ltr">' in parts(message)[1]
    token = unsubscribe_url(message).rsplit("/", 1)[1]

    # daily digest: nothing now, the notification waits for the digest hour
    changed = await client.put(f"/v1/preferences/{token}", json={"frequency": "daily"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"frequency": "daily", "unsubscribed": False, "language": "en"}
    second = await submitted(runtime, "camp-d", "p-one")
    await runtime.publisher.publish(
        CommentModerated(
            subject="camp-d",
            data=CommentModeratedData(
                comment_id=second, decision="reject", automatic=True, statement="spam",
                redacted_text="x", language="en",
            ),
        )
    )  # fmt: skip

    async def waiting() -> bool:
        doc = await runtime.db[NOTIFICATIONS].find_one({"participant_id": "p-one",
                                                        "status": "pending"})  # fmt: skip
        return doc is not None

    await eventually(waiting)
    assert len(inbox.to("one@example.org")) == 1

    # one click (RFC 8058): nothing more is sent, even what was planned
    assert (await client.get(f"/v1/unsubscribe/{token}")).status_code == 200  # a page only
    assert (await client.get(f"/v1/preferences/{token}")).json()["unsubscribed"] is False
    assert (await client.post(f"/v1/unsubscribe/{token}")).status_code == 200
    assert (await client.get(f"/v1/preferences/{token}")).json()["unsubscribed"] is True
    assert (await client.post("/v1/unsubscribe/not-a-token")).status_code == 404

    # erasure deletes the sealed contact and every notification
    await runtime.publisher.publish(
        ParticipantErased(data=ParticipantErasedData(participant_id="p-one"))
    )

    async def erased() -> bool:
        contact = await runtime.db[CONTACTS].find_one({"_id": "p-one"})
        notes = await runtime.db[NOTIFICATIONS].count_documents({"participant_id": "p-one"})
        return contact is None and notes == 0

    await eventually(erased)
    assert (await client.get(f"/v1/preferences/{token}")).status_code == 404


async def test_a_relay_that_fails_for_a_while_gets_the_message_later(
    notify: tuple[httpx.AsyncClient, Runtime],
    mailbox: tuple[Mailbox, int],
    settings: NotifySettings,
) -> None:
    client, runtime = notify
    inbox, _ = mailbox
    inbox.tempfail = 1
    created = await client.post(
        "/v1/disseminations",
        json={"campaign_id": "camp-t", "source": "s", "channel": "email",
              "recipients": [{"email": "later@example.org", "consent": True}]},
        headers=ADMIN,
    )  # fmt: skip
    dissemination = created.json()["id"]

    async def retried() -> bool:
        doc = await runtime.db[INVITATIONS].find_one({"dissemination_id": dissemination})
        return doc is not None and doc["attempts"] == 1 and doc["status"] == "pending"

    await eventually(retried)
    # waiting for its retry, the contact is sealed at rest (Fernet), never in clear
    waiting = await runtime.db[INVITATIONS].find_one({"dissemination_id": dissemination})
    assert waiting is not None
    assert "later@" not in json.dumps(waiting, default=str)
    assert SEALER.open(waiting["contact_sealed"]) == {"email": "later@example.org"}
    # bring the retry forward rather than wait for the backoff
    await runtime.db[INVITATIONS].update_many(
        {"dissemination_id": dissemination}, {"$set": {"due_at": "2000-01-01T00:00:00.000000Z"}}
    )
    await eventually(lambda: len(inbox.to("later@example.org")) == 1)
    doc = await runtime.db[INVITATIONS].find_one({"dissemination_id": dissemination})
    assert doc is not None
    assert (doc["status"], doc["attempts"]) == ("sent", 2)


async def test_sms_invitations_go_through_the_provider_with_their_tracked_link(
    settings: NotifySettings,
) -> None:
    app = create_app(settings)
    async with running_app(app) as client:
        runtime: Runtime = app.state.runtime
        created = await client.post(
            "/v1/disseminations",
            json={"campaign_id": "camp-sms", "source": "sms-blast", "channel": "sms",
                  "language": "ar"},
            headers=ADMIN,
        )  # fmt: skip
        dissemination = created.json()["id"]
        response = await client.post(
            f"/v1/disseminations/{dissemination}/recipients",
            content=b"phone,consent\n+972-50-123-4567,yes\n050 7654321,no\n",
            headers={**ADMIN, "content-type": "text/csv"},
        )
        assert response.status_code == 202, response.text
        assert (response.json()["recipients"], response.json()["refused"]) == (1, 1)
        sms = app.state.sms
        await eventually(lambda: len(sms.sent) == 1)
        [(number, text)] = sms.sent
        assert number == "+972501234567"
        assert "https://notify.kolot.test/r/" in text
        assert "دعوة" in text

        async def announced() -> bool:
            return len(await events_of(runtime, "kolot.invitation.sent", "camp-sms")) == 1

        await eventually(announced)
        [sent] = await events_of(runtime, "kolot.invitation.sent", "camp-sms")
        assert sent["data"]["channel"] == "sms"
        # the number in none of its forms (ids are random hex: a short digit run may occur)
        assert "501234567" not in json.dumps(sent)


async def test_a_daily_digest_sends_the_waiting_items_in_one_message(
    notify: tuple[httpx.AsyncClient, Runtime], mailbox: tuple[Mailbox, int]
) -> None:
    client, runtime = notify
    inbox, _ = mailbox
    await register(runtime, "p-digest", {"email": "digest@example.org"})
    comments = [await submitted(runtime, "camp-g", "p-digest") for _ in range(3)]

    async def known() -> bool:
        return await runtime.db[CONTACTS].find_one({"_id": "p-digest"}) is not None

    await eventually(known)
    contact = await runtime.db[CONTACTS].find_one({"_id": "p-digest"})
    assert contact is not None
    changed = await client.put(f"/v1/preferences/{contact['token']}", json={"frequency": "daily"})
    assert changed.status_code == 200
    for comment in comments:
        await runtime.publisher.publish(
            CommentModerated(
                subject="camp-g",
                data=CommentModeratedData(
                    comment_id=comment, decision="reject", automatic=True, statement="spam",
                    redacted_text="x", language="en",
                ),
            )
        )  # fmt: skip

    async def planned() -> bool:
        waiting = await runtime.db[NOTIFICATIONS].count_documents(
            {"participant_id": "p-digest", "status": "pending"}
        )
        return waiting == 3

    await eventually(planned)
    await asyncio.sleep(0.3)
    assert inbox.to("digest@example.org") == []
    # the digest hour comes
    await runtime.db[NOTIFICATIONS].update_many(
        {"participant_id": "p-digest"}, {"$set": {"due_at": "2000-01-01T00:00:00.000000Z"}}
    )
    await eventually(lambda: len(inbox.to("digest@example.org")) == 1)
    await asyncio.sleep(0.3)
    [digest] = inbox.to("digest@example.org")
    assert digest["Subject"] == "Updates from the public consultation"
    text, html = parts(digest)
    assert text.count("The decision on your comment") == 3
    assert '<html lang="en" dir="ltr">' in html


async def test_two_replicas_send_each_invitation_once(
    settings: NotifySettings, mailbox: tuple[Mailbox, int]
) -> None:
    inbox, _ = mailbox
    first, second = create_app(settings), create_app(settings)
    async with running_app(first) as client, running_app(second):
        addresses = [f"r{n}@example.org" for n in range(20)]
        created = await client.post(
            "/v1/disseminations",
            json={
                "campaign_id": "camp-two",
                "source": "list",
                "channel": "email",
                "recipients": [{"email": a, "consent": True} for a in addresses],
            },
            headers=ADMIN,
        )
        assert created.status_code == 201, created.text
        await eventually(lambda: len(inbox.messages) >= 20)
        await asyncio.sleep(0.5)  # room for a wrong second copy to arrive
    assert sorted(m["To"] for m in inbox.messages) == sorted(addresses)


async def test_a_closed_circle_s_invitation_travels_sealed_and_is_handed_on_by_the_link(
    notify: tuple[httpx.AsyncClient, Runtime], mailbox: tuple[Mailbox, int]
) -> None:
    client, runtime = notify
    inbox, _ = mailbox
    circle_token = "intake-issued.circle-token+/="  # as intake's POST .../invitations gives it
    created = await client.post(
        "/v1/disseminations",
        json={"campaign_id": "camp-circle", "source": "experts", "channel": "email",
              "recipients": [{"email": "expert@example.org", "consent": True,
                              "circle_invitation": circle_token}]},
        headers=ADMIN,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    [stored] = [doc async for doc in runtime.db[INVITATIONS].find({"campaign_id": "camp-circle"})]
    assert circle_token not in json.dumps(stored, default=str)
    await eventually(lambda: len(inbox.to("expert@example.org")) == 1)
    text, _ = parts(inbox.to("expert@example.org")[0])
    token = text.split("https://notify.kolot.test/r/")[1].split()[0]
    clicked = await client.get(f"/r/{token}", follow_redirects=False)
    location = httpx.URL(clicked.headers["location"])
    assert location.params["invitation"] == circle_token
    assert location.params["source"] == "experts"


async def test_stopping_gives_back_the_messages_it_had_not_started(
    settings: NotifySettings, mailbox: tuple[Mailbox, int]
) -> None:
    inbox, _ = mailbox
    inbox.hold = True
    app = create_app(settings)
    try:
        async with running_app(app) as client:
            created = await client.post(
                "/v1/disseminations",
                json={"campaign_id": "camp-stop", "source": "s", "channel": "email",
                      "recipients": [{"email": f"s{n}@example.org", "consent": True}
                                     for n in range(12)]},
                headers=ADMIN,
            )  # fmt: skip
            assert created.status_code == 201
            # eight sends at once per replica: the relay holds those it has, four wait their turn
            await eventually(lambda: inbox.waiting >= 1)
            await asyncio.sleep(0.3)
        # the app has stopped: the four never tried are due again at once, unspent
        mongo = create_mongo_client(settings.mongodb_url, app_name="test")
        try:
            db = mongo[settings.database_name()]
            waiting = [
                doc
                async for doc in db[INVITATIONS].find({"campaign_id": "camp-stop"})
                if doc["status"] == "pending"
            ]
        finally:
            await mongo.close()
    finally:
        inbox.hold = False
    assert len(waiting) == 4
    assert all(doc["attempts"] == 0 for doc in waiting)
