"""The participation page's pure parts: its strings in three languages, the choice of language,
form tokens, survey fields, the flash cookie and the receipt's short code."""

from __future__ import annotations

import re
import string
from types import SimpleNamespace
from typing import Any, cast

import pytest

from kolot.common.events import Question
from kolot.intake.api.pages import PublicPages
from kolot.intake.pages.forms import (
    Flash,
    Form,
    FormGuard,
    idempotency_key,
    short_code,
    source_of,
    survey_answers,
)
from kolot.intake.pages.text import (
    FLAG_REASONS,
    LANGUAGES,
    STRINGS,
    preferred_language,
)
from kolot.intake.rules import validate_answers
from kolot.intake.service import IntakeService


def test_every_string_exists_in_every_language_with_the_same_placeholders() -> None:
    english = STRINGS["en"]
    for language in LANGUAGES:
        strings = STRINGS[language]
        assert strings.keys() == english.keys(), language
        for key, text in strings.items():
            assert text.strip(), f"{language}.{key} is empty"
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            expected = {f for _, f, _, _ in string.Formatter().parse(english[key]) if f}
            assert fields == expected, f"{language}.{key}: {fields} != {expected}"
    # the report taxonomy is the event's, each reason labelled
    assert all(f"reason_{reason}" in english for reason in FLAG_REASONS)
    # Hebrew and Arabic pages are written in their own script, not left in English
    assert re.search(r"[\u0590-\u05ff]", STRINGS["he"]["send_comment"])
    assert re.search(r"[\u0600-\u06ff]", STRINGS["ar"]["send_comment"])


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("he-IL,he;q=0.9,en;q=0.8", "he"),
        ("fr-FR, ar;q=0.5, en;q=0.7", "en"),
        ("ar-EG", "ar"),
        ("en;q=0, ar;q=0.1", "ar"),
        ("fr, de", None),
        ("", None),
        ("en;q=notanumber, he", "he"),
    ],
)
def test_the_first_language_the_browser_asks_for(header: str, expected: str | None) -> None:
    assert preferred_language(header) == expected


def test_form_tokens_bind_a_form_to_whom_it_was_rendered_for() -> None:
    guard = FormGuard("secret-one")
    token = guard.token("p:alice")
    assert guard.check(token, ["p:alice"])
    assert guard.check(token, ["v:someone", "p:alice"])
    assert not guard.check(token, ["p:bob"])
    assert not guard.check("", ["p:alice"])
    assert not guard.check(None, ["p:alice"])
    # another installation's secret makes other tokens
    assert not FormGuard("secret-two").check(token, ["p:alice"])


def test_a_form_body_keeps_repeated_and_blank_fields() -> None:
    form = Form.parse(b"text=%D7%A9%D7%9C%D7%95%D7%9D+%3Cb%3E&q.days=sun&q.days=fri&detail=")
    assert form.get("text") == "שלום <b>"
    assert form.get("detail") == ""
    assert form.get("missing", "default") == "default"
    assert [v for k, v in form.pairs if k == "q.days"] == ["sun", "fri"]


QUESTIONS = [
    Question(
        id="mode",
        kind="single",
        required=True,
        options=[{"id": "bus"}, {"id": "train"}],
    ),
    Question(
        id="days",
        kind="multiple",
        options=[{"id": "sun"}, {"id": "fri"}],
    ),
    Question(id="score", kind="scale"),
    Question(id="why", kind="text"),
]


def test_survey_fields_become_the_answers_the_json_api_takes() -> None:
    form = Form.parse(b"q.mode=bus&q.days=sun&q.days=fri&q.score=4&q.why=night&q.other=x&csrf=t")
    answers = survey_answers(QUESTIONS, form)
    assert answers == {"mode": "bus", "days": ["sun", "fri"], "score": 4, "why": "night"}
    assert validate_answers(QUESTIONS, answers) == answers
    # left blank is unanswered; a scale that is not a number goes to the rules, which refuse it
    assert survey_answers(QUESTIONS, Form.parse(b"q.mode=&q.why=+&q.score=many")) == {
        "score": "many"
    }


def test_the_flash_carries_a_receipt_across_the_redirect_and_refuses_junk() -> None:
    flash = Flash("comment", "0192-id", "a.b.c", "שלום " * 100)
    decoded = Flash.decode(flash.encode())
    assert decoded is not None
    assert (decoded.kind, decoded.id, decoded.receipt) == ("comment", "0192-id", "a.b.c")
    assert decoded.excerpt == ("שלום " * 100)[:160]
    assert decoded.submitted_at is None  # "a.b.c" is no receipt
    for junk in ("", "%%%", "bm90IGpzb24", "e30"):  # not base64, not JSON, {} without fields
        assert Flash.decode(junk) is None


def test_receipt_short_codes_are_readable_and_follow_the_receipt() -> None:
    code = short_code("header.payload.signature")
    assert re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}", code)
    assert short_code("header.payload.signature") == code
    assert short_code("header.payload.signaturf") != code


def test_attribution_and_idempotency_keys_are_taken_only_in_the_accepted_shape() -> None:
    assert source_of("facebook") == "facebook"
    assert source_of("news.letter-2") == "news.letter-2"
    assert source_of("<script>") is None
    assert source_of("") is None
    assert idempotency_key("abc-123") == "abc-123"
    assert idempotency_key("with space") is None
    assert idempotency_key("x" * 129) is None


class CountingComments:
    """Published comments in memory, counting the reads the page makes."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs
        self.reads: list[str] = []

    async def published_comments(
        self, campaign_id: str, *, before: str | None, limit: int, order: str
    ) -> list[dict[str, Any]]:
        self.reads.append("page")
        return [d for d in self.docs if d["depth"] == 0][:limit]

    async def published_replies(self, parent_ids: list[str], *, limit: int) -> list[dict[str, Any]]:
        self.reads.append("replies")
        return [d for d in self.docs if d.get("parent_id") in parent_ids][:limit]


def comment(cid: str, *, depth: int = 0, parent: str | None = None, replies: int = 0) -> Any:
    key = f"20261123T100000.000000Z.{cid}"
    return {
        "_id": cid,
        "public_text": f"text {cid}",
        "depth": depth,
        "parent_id": parent,
        "replies": replies,
        "sort_key": key,
        "rank": f"001000000000.{key}",
        "participant_id": f"author-{cid}",
    }


async def test_a_page_reads_once_plus_once_per_level_of_replies_and_is_kept_briefly() -> None:
    docs = [comment(f"c{n}", replies=1 if n < 5 else 0) for n in range(20)]
    docs += [comment(f"r{n}", depth=1, parent=f"c{n}", replies=1) for n in range(5)]
    docs += [comment(f"rr{n}", depth=2, parent=f"r{n}") for n in range(5)]
    store = CountingComments(docs)
    service = cast(IntakeService, SimpleNamespace(repository=store))
    pages = PublicPages(ttl=60)
    roots, next_cursor = await pages.get(service, "camp", sort="newest", before=None)
    assert store.reads == ["page", "replies", "replies"]  # 20 comments, 10 replies: 3 reads
    assert len(roots) == 20
    assert next_cursor is not None
    assert [c.id for c in roots[0].children] == ["r0"]
    assert [c.id for c in roots[0].children[0].children] == ["rr0"]
    assert roots[0].author == "author-c0"
    # the next visitor within the ttl gets the same page without a read; another order reads
    await pages.get(service, "camp", sort="newest", before=None)
    assert len(store.reads) == 3
    await pages.get(service, "camp", sort="supported", before=None)
    assert len(store.reads) == 6
    expired = PublicPages(ttl=0)
    await expired.get(service, "camp", sort="newest", before=None)
    await expired.get(service, "camp", sort="newest", before=None)
    assert store.reads.count("page") == 4
