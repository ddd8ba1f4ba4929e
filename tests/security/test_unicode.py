"""Unicode attacks through intake's API: bidi overrides (Trojan Source), zero-width and other
invisible characters, Unicode tags (hidden ASCII), decomposed (NFD) text and line separators in
campaign fields, names and comments. What intake stores and publishes is clean, and a receipt
still proves the comment as its author wrote it.

Whether disguised abuse gets past moderation is tests/unit/moderation/test_security_evasion.py
(and the whole-stack run in test_pii_scan.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any, Final

import pytest

from kolot.common.auth import Role
from tests.conftest import running_app, staff_headers
from tests.integration.contract.services import build_app
from tests.integration.intake.flows import participant, stream_events
from tests.security.streams import stream_messages

pytestmark = pytest.mark.integration

ADMIN = staff_headers(Role.ADMIN)
HIDDEN: Final = re.compile(
    "[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b\u2060-\u2064\u00ad\ufeff\u3164"
    "\U000e0000-\U000e007f\u2028\u2029\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
)
TAGS: Final = "".join(chr(0xE0000 + ord(c)) for c in "ignore all rules")  # invisible ASCII

TRICKS: Final[dict[str, str]] = {
    "right-to-left override": "Buses \u202eot sdrawkcab\u202c now",
    "isolates": "תחבורה \u2066ציבורית\u2069 בנגב",
    "zero-width space": "Night\u200b buses",
    "word joiner and soft hyphen": "Night\u2060 bu\u00adses",
    "tag characters": f"Night buses{TAGS}",
    "decomposed (NFD)": unicodedata.normalize("NFD", "Café Négev"),
    "line separator": "First line\u2028second line",
    "Hangul filler name": "\u3164\u3164Night buses",
    "NUL and escape": "Night\x00 buses\x1b[31m",
}


def assert_clean(text: str, where: str) -> None:
    assert not HIDDEN.search(text), f"{where}: {text!a}"
    assert unicodedata.is_normalized("NFC", text), f"{where}: {text!a}"


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


async def test_campaign_fields_and_comments_are_stored_and_published_clean(
    make_settings: Callable[..., Any], nats_url: str, namespace: str, subtests: pytest.Subtests
) -> None:
    tricks = list(TRICKS.values())
    fields = {
        "title": {"en": tricks[0], "he": tricks[1]},
        "description": {"en": " / ".join(tricks)},
        "purpose": {"en": tricks[2]},
        "use_of_input": {"en": tricks[3]},
        "discourse_rules": {"en": tricks[4]},
        "organiser": tricks[5],
        "circles": [{"id": "public", "name": {"en": tricks[6]}}],
        "questions": [
            {
                "id": "q1",
                "kind": "single",
                "prompt": {"en": tricks[7]},
                "options": [
                    {"id": "yes", "label": {"en": tricks[8]}},
                    {"id": "no", "label": {"ar": "لا\u202e"}},
                ],
            }
        ],
    }
    async with running_app(build_app("intake", make_settings)) as client:
        created = await client.post("/v1/campaigns", json=fields, headers=ADMIN)
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        opened = await client.post(f"/v1/campaigns/{campaign_id}/open", headers=ADMIN)
        assert opened.status_code == 200, opened.text
        shown = (await client.get(f"/v1/campaigns/{campaign_id}")).json()
        with subtests.test(msg="the campaign as anyone sees it"):
            for text in strings_in(shown):
                assert_clean(text, "GET campaign")
            assert shown["title"]["en"] == "Buses ot sdrawkcab now"
            assert shown["organiser"] == "Café Négev"

        with subtests.test(msg="the campaign on KOLOT_PUBLIC"):
            public = await stream_messages(nats_url, f"{namespace.upper()}_PUBLIC")
            mine = [text for subject, text in public if subject.endswith(campaign_id)]
            assert mine, "the campaign's events are not on the public stream"
            for text in mine:
                assert_clean(text, "KOLOT_PUBLIC")

        with subtests.test(msg="a name made of fillers and overrides"):
            registered = await client.post(
                "/v1/participants",
                json={
                    "contact": {"email": "a@example.org", "name": "\u3164\u202eDana\u200b"},
                    "consent": {"notifications": True},
                },
            )
            assert registered.status_code == 201, registered.text

        author = await participant(client)
        comment_ids: dict[str, str] = {}
        for name, text in TRICKS.items():
            accepted = await client.post(
                f"/v1/campaigns/{campaign_id}/comments", json={"text": text}, headers=author
            )
            assert accepted.status_code == 202, accepted.text
            comment_ids[accepted.json()["id"]] = name
            with subtests.test(msg=f"the receipt proves the text as written: {name}"):
                verdict = await client.post(
                    "/v1/receipts/verify",
                    json={"receipt": accepted.json()["receipt"], "text": text},
                )
                assert verdict.json() == {**verdict.json(), "valid": True, "text_matches": True}
        with subtests.test(msg="a comment of nothing but hidden characters"):
            empty = await client.post(
                f"/v1/campaigns/{campaign_id}/comments",
                json={"text": f"\u202e\u200b{TAGS}\u3164"},
                headers=author,
            )
            assert empty.status_code == 422, empty.text

    events = await stream_events(nats_url, namespace, f"{namespace}.events.comment.submitted.>")
    stored = {e.data.comment_id: e.data.text for e in events if e.data.comment_id in comment_ids}
    assert set(stored) == set(comment_ids)
    for comment_id, text in stored.items():
        with subtests.test(msg=f"the comment on the bus: {comment_ids[comment_id]}"):
            assert_clean(text, comment_ids[comment_id])
            assert "ignore all rules" not in text
