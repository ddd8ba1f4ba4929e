"""Hypothesis fuzzing of intake's pure parsers: text cleaning, meeting uploads and receipts.

Their promises: cleaned text is clean (no control, bidi or invisible characters; NFC; trimmed),
storable (UTF-8) and stable (cleaning it again changes nothing); an upload of any bytes is rows
or an ``UploadFormatError``, and its rows validate without raising; a receipt of any string is a
receipt or a ``jwt.PyJWTError``, and tampering never yields a different receipt.
"""

from __future__ import annotations

import json
import string
import unicodedata
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kolot.common.events import CampaignSnapshot, LocalizedText
from kolot.intake.receipts import Receipt, sign_receipt, verify_receipt
from kolot.intake.text import clean_text, sha256_hex
from kolot.intake.uploads import COLUMNS, Row, UploadFormatError, parse_rows, validate_rows

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# every code point, lone surrogates included (what a JSON "\ud800" escape produces)
any_char = st.characters(codec=None, categories=None, exclude_categories=())
any_text = st.text(alphabet=any_char, max_size=300)
# text made of what attacks are made of, so the interesting cases come up often
tricky_text = st.text(
    alphabet=st.sampled_from(
        list("a é\n\r\t ")
        + ["\u0301", "\u00a0", "\u2028", "\u2029", "\u0085", "\x00", "\x1b"]
        # bidi controls, zero-width, word joiner, soft hyphen, BOM, tags, fillers
        + [chr(c) for c in (0x202A, 0x202E, 0x2066, 0x2069, 0x200E, 0x200F, 0x061C)]
        + [chr(c) for c in (0x200B, 0x200C, 0x200D, 0x2060, 0x2064, 0x00AD, 0xFEFF, 0x3164)]
        + ["\U000e0041", "\U000e007f", "\ud800", "\udfff", "א", "ב", "ّ", "ـ"]
    ),
    max_size=60,
)

FORBIDDEN = frozenset(
    [chr(c) for c in range(0x20) if chr(c) not in "\n\t"]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + [chr(c) for c in (0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069)]
    + [chr(c) for c in (0x200E, 0x200F, 0x061C, 0xFEFF, 0x200B, 0x2060, 0x00AD, 0x2028, 0x2029)]
)


def _is_forbidden(char: str) -> bool:
    return (
        char in FORBIDDEN
        or 0xD800 <= ord(char) <= 0xDFFF
        or 0xE0000 <= ord(char) <= 0xE007F
        or 0x2061 <= ord(char) <= 0x2064
    )


@FUZZ
@given(st.one_of(any_text, tricky_text))
@example("a\n \n \n \nb")  # lines of spaces between lines (cleaned twice, it changed again)
@example("e\u200b\u0301")  # an invisible between a letter and its accent
@example("x\ud800y")  # a lone surrogate: could not be stored or hashed
def test_cleaned_text_is_clean_storable_and_stable(raw: str) -> None:
    text = clean_text(raw)

    assert not [c for c in text if _is_forbidden(c)], ascii(text)
    assert unicodedata.is_normalized("NFC", text)
    assert text == text.strip()
    assert "\n\n\n" not in text
    assert clean_text(text) == text
    text.encode("utf-8")  # storable, and hashable for the receipt
    assert sha256_hex(text) == sha256_hex(clean_text(raw))


@FUZZ
@given(any_text, st.sampled_from(["\u202e", "\u200b", "\u2066", "\u00ad", "\U000e0041", "\x00"]))
def test_hidden_characters_anywhere_do_not_change_the_cleaned_text(raw: str, hidden: str) -> None:
    raw = raw.replace("\r", "")  # "\r" + hidden + "\n" are two line breaks, not one

    assert clean_text(hidden.join(raw)) == clean_text(raw)


def test_zwj_and_zwnj_are_spelling_and_stay() -> None:
    assert clean_text("لا\u200cأعرف 👩\u200d💻") == "لا\u200cأعرف 👩\u200d💻"


# -- meeting uploads ------------------------------------------------------------------------------

CAMPAIGN = CampaignSnapshot(
    campaign_id="c1",
    status="open",
    title=LocalizedText(he="תחבורה"),
    questions=[
        {"id": "q1", "kind": "single", "options": [{"id": "yes"}, {"id": "no"}]},
        {"id": "q2", "kind": "scale"},
    ],
)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    any_text.filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s)),
)
json_value = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=10,
)
cell = st.one_of(json_value, tricky_text, st.sampled_from(["comment", "vote", "response", "1"]))
row_values = st.dictionaries(st.sampled_from([*COLUMNS, "other"]), cell, max_size=len(COLUMNS))


def validate(rows: list[Row]) -> None:
    validation = validate_rows(
        rows, campaign=CAMPAIGN, upload_id="u1", max_comment_chars=500, targets={}, now=NOW
    )
    for valid in validation.valid:
        if valid.text is not None:
            assert clean_text(valid.text) == valid.text


def parsed_or_refused(body: bytes, media_type: str) -> list[Row]:
    try:
        return parse_rows(body, media_type)
    except UploadFormatError:
        return []


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["text/csv", "application/json"]))
@example(b"[" * 100_000 + b"]" * 100_000, "application/json")  # a RecursionError, a 500
@example(b'[{"kind": ' + b"9" * 5000 + b"}]", "application/json")  # a ValueError, a 500
@example(b'kind,answers\nresponse,"' + b"[" * 5000 + b'"\n', "text/csv")
@example(b'kind,answers\nresponse,"{""q2"": ' + b"9" * 5000 + b'}"\n', "text/csv")
def test_any_upload_is_rows_or_a_format_error(body: bytes, media_type: str) -> None:
    validate(parsed_or_refused(body, media_type))


@settings(FUZZ, max_examples=60)
@given(st.lists(row_values, min_size=1, max_size=5))
def test_any_rows_validate_without_raising(rows: list[dict[str, Any]]) -> None:
    body = json.dumps(rows).encode()
    validate(parsed_or_refused(body, "application/json"))


@FUZZ
@given(st.lists(st.lists(tricky_text, min_size=1, max_size=len(COLUMNS)), max_size=5))
def test_any_csv_sheet_is_rows_or_a_format_error(cells: list[list[str]]) -> None:
    lines = [",".join(COLUMNS)] + [
        ",".join('"' + c.replace('"', '""') + '"' for c in line) for line in cells
    ]
    body = "\r\n".join(lines).encode("utf-8", "surrogatepass")
    validate(parsed_or_refused(body, "text/csv"))


# -- receipts ----------------------------------------------------------------------------------

SECRET = "a-receipt-secret-of-at-least-thirty-two-bytes"
RECEIPT = Receipt(
    contribution_id="01a2-comment",
    campaign_id="c1",
    kind="comment",
    submitted_at=NOW,
    text_sha256=sha256_hex("מה שכתבתי"),
)


@FUZZ
@example("\ud800")  # a lone surrogate made PyJWT raise a UnicodeEncodeError
@given(
    st.one_of(
        any_text,
        st.lists(st.text(alphabet="ABCxyz019-_=", max_size=40), min_size=1, max_size=5).map(
            ".".join
        ),
    )
)
@example("eyJhbGciOiJub25lIn0.eyJ0eXAiOiJrb2xvdC1yZWNlaXB0In0.")  # alg none
def test_any_string_is_a_receipt_or_refused(token: str) -> None:
    try:
        verify_receipt(SECRET, token)
    except jwt.PyJWTError:
        return
    pytest.fail(f"an unsigned string passed as a receipt: {token!r}")


@FUZZ
@given(st.data())
def test_a_tampered_receipt_is_refused_or_unchanged(data: st.DataObject) -> None:
    token = sign_receipt(SECRET, RECEIPT)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(string.ascii_letters + string.digits + "-_."))
    tampered = token[:position] + replacement + token[position + 1 :]
    try:
        receipt = verify_receipt(SECRET, tampered)
    except jwt.PyJWTError:
        return
    # base64's last character has spare bits: a change there may decode to the same bytes
    assert receipt == RECEIPT


@FUZZ
@given(
    st.text(min_size=1, max_size=40),
    st.text(min_size=1, max_size=40),
    st.sampled_from(["comment", "response", "vote"]),
    st.one_of(st.none(), any_text.map(clean_text).map(sha256_hex)),
)
def test_receipts_round_trip_whatever_their_ids(
    contribution_id: str, campaign_id: str, kind: str, digest: str | None
) -> None:
    receipt = Receipt(contribution_id, campaign_id, kind, NOW, digest)

    assert verify_receipt(SECRET, sign_receipt(SECRET, receipt)) == receipt
    with pytest.raises(jwt.InvalidSignatureError):
        verify_receipt(SECRET + "-another", sign_receipt(SECRET, receipt))
