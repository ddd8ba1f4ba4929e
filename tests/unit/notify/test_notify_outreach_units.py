"""Templates, recipient lists, recipient refs, digest times and the providers' rate limit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from kolot.common.settings import DEV_CONTACT_KEYS
from kolot.notify.channels import RateLimiter
from kolot.notify.disseminations import RecipientListError, RecipientRefs, normalise, parse_csv
from kolot.notify.notifications import next_digest
from kolot.notify.templates import item, render

UNSUBSCRIBE = "https://notify.example/v1/unsubscribe/t"


@pytest.mark.parametrize(("language", "direction"), [("he", "rtl"), ("ar", "rtl"), ("en", "ltr")])
def test_every_language_has_both_parts_and_the_right_direction(
    language: str, direction: str
) -> None:
    for template in ("reply", "decision", "appeal", "outcome", "invitation"):
        entry = item(template, language, {"link": "https://kolot.test/c", "text": "t"})  # type: ignore[arg-type]
        rendered = render([entry], language=language, unsubscribe_url=UNSUBSCRIBE)  # type: ignore[arg-type]
        assert f'<html lang="{language}" dir="{direction}">' in rendered.html
        assert f'<body dir="{direction}"' in rendered.html
        assert f'<p dir="{direction}">' in rendered.html
        assert rendered.subject in rendered.text
        assert UNSUBSCRIBE in rendered.text
        assert "https://kolot.test/c" in rendered.text
        assert "<" not in rendered.text


def test_people_s_text_is_escaped_in_html_and_kept_in_text() -> None:
    entry = item("reply", "he", {"text": '<script>alert("x")</script>', "link": 'https://x/"a'})
    rendered = render([entry], language="he", unsubscribe_url=UNSUBSCRIBE)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert 'href="https://x/&quot;a"' in rendered.html
    assert '<script>alert("x")</script>' in rendered.text


def test_the_decision_carries_its_statement_of_reasons() -> None:
    entry = item("decision", "en", {"decision": "reject", "statement": "Personal data."})
    assert entry.paragraphs == ("Your comment was not published.", "Reasons:", "Personal data.")


def test_a_digest_has_its_own_subject_and_every_item() -> None:
    entries = [item("reply", "en", {"text": "one"}), item("outcome", "en", {"summary": "two"})]
    rendered = render(entries, language="en", unsubscribe_url=UNSUBSCRIBE)
    assert rendered.subject == "Updates from the public consultation"
    assert "one" in rendered.text
    assert "two" in rendered.text


def test_a_csv_list_needs_consent_and_an_address() -> None:
    body = (
        "\ufeffName;Email;Consent;Language\n"
        "a;A@Example.org;yes;ar\n"
        "b;b@example.org;;he\n"
        "c;nope;כן;\n"
        "d;d@example.org;نعم;fr\n"
        ";;;\n"
        "e;e@example.org;TRUE;\n"
    ).encode()
    parsed = parse_csv(body, channel="email")
    assert [(r.address, r.language) for r in parsed.recipients] == [
        ("a@example.org", "ar"),
        ("e@example.org", None),
    ]
    assert parsed.refused == 3
    assert [e["row"] for e in parsed.errors] == [3, 4, 5]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"email,name\nx@y.org,z\n", "consent"),
        (b"\xff\xfe\x00\x00", "UTF-8"),
    ],
)
def test_unusable_lists_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(RecipientListError, match=message):
        parse_csv(body, channel="email")


def test_sms_lists_need_a_phone_column() -> None:
    with pytest.raises(RecipientListError, match="phone"):
        parse_csv(b"email,consent\na@b.org,yes\n", channel="sms")
    parsed = parse_csv(b"phone,consent\n+972 50-123-4567,yes\n", channel="sms")
    assert [r.address for r in parsed.recipients] == ["+972501234567"]


def test_addresses_are_normalised() -> None:
    assert normalise(" Dana@Example.ORG ", "email") == "dana@example.org"
    assert normalise("dana@", "email") is None
    assert normalise("050 (123) 45-67", "phone") == "0501234567"
    assert normalise("12", "phone") is None


def test_recipient_refs_are_keyed_and_stable() -> None:
    refs = RecipientRefs(DEV_CONTACT_KEYS)
    other = RecipientRefs("b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMSE=")
    assert refs("a@example.org") == refs("a@example.org")
    assert refs("a@example.org") != refs("b@example.org")
    assert refs("a@example.org") != other("a@example.org")
    assert "example" not in refs("a@example.org")


def test_the_next_digest_is_at_the_hour_after_now() -> None:
    morning = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert next_digest(morning, 17) == datetime(2026, 11, 23, 17, tzinfo=UTC)
    evening = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert next_digest(evening, 17) == datetime(2026, 11, 24, 17, tzinfo=UTC)


async def test_the_rate_limiter_spaces_acquisitions_after_its_burst() -> None:
    now = [0.0]
    limiter = RateLimiter(10, burst=2, clock=lambda: now[0])
    await limiter.acquire()
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.02)
    assert not waiter.done()  # the burst is spent and the clock has not moved
    now[0] = 0.1  # one token's worth of time
    await asyncio.wait_for(waiter, 1)
