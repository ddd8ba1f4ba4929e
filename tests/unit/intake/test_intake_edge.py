"""Pure pieces of intake: text cleaning, receipts, the in-memory campaign directory, projection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from kolot.common.events import (
    CampaignSnapshot,
    CommentPublished,
    CommentPublishedData,
    CommentSubmitted,
    CommentSubmittedData,
    LocalizedText,
)
from kolot.intake.campaigns import CampaignDirectory
from kolot.intake.handlers import comment_changes
from kolot.intake.receipts import Receipt, sign_receipt, verify_receipt
from kolot.intake.text import clean_text, sha256_hex


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  שלום  עולם  ", "שלום עולם"),
        ("abc\u202edef", "abcdef"),  # right-to-left override (Trojan Source)
        ("מילה\u2066מוסתרת\u2069", "מילהמוסתרת"),  # isolates
        ("a\x00b\x07c", "abc"),
        ("line1\r\nline2\n\n\n\nline3", "line1\nline2\n\nline3"),
        ("e\u0301", "\u00e9"),  # NFC
        ("\ufeffבוקר טוב", "בוקר טוב"),
        ("لا\u200cأعرف", "لا\u200cأعرف"),  # ZWNJ is spelling, kept
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


SECRET = "a-receipt-secret-of-at-least-thirty-two-bytes"


def test_receipt_round_trip_and_tamper() -> None:
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    receipt = Receipt("c1", "camp", "comment", at, sha256_hex("טקסט"))
    token = sign_receipt(SECRET, receipt)
    assert verify_receipt(SECRET, token) == receipt
    with pytest.raises(jwt.PyJWTError):
        verify_receipt(SECRET[::-1], token)
    header, payload, signature = token.split(".")
    with pytest.raises(jwt.PyJWTError):
        verify_receipt(SECRET, f"{header}.{payload}x.{signature}")


def _campaign(campaign_id: str, status: str, updated: datetime) -> CampaignSnapshot:
    return CampaignSnapshot(
        campaign_id=campaign_id,
        status=status,  # type: ignore[arg-type]
        title=LocalizedText(en="t"),
        updated_at=updated,
    )


async def test_directory_keeps_the_newest_snapshot_and_loads_unknown_ids_once() -> None:
    loads: list[str] = []
    now = datetime.now(UTC)

    async def loader(campaign_id: str) -> CampaignSnapshot | None:
        loads.append(campaign_id)
        return _campaign(campaign_id, "open", now) if campaign_id == "in-store" else None

    directory = CampaignDirectory(loader, negative_ttl=60)
    directory.apply(_campaign("a", "open", now))
    directory.apply(_campaign("a", "draft", now - timedelta(seconds=1)))  # older: ignored
    assert (await directory.get("a")).status == "open"  # type: ignore[union-attr]
    assert await directory.get("in-store") is not None
    assert await directory.get("in-store") is not None
    assert await directory.get("nope") is None
    assert await directory.get("nope") is None
    assert loads == ["in-store", "nope"]  # each looked up once


def test_projection_of_submission_and_publication_is_order_independent() -> None:
    submitted = CommentSubmitted(
        subject="camp",
        data=CommentSubmittedData(
            comment_id="c1", participant_id="p1", text="raw", text_sha256=sha256_hex("raw")
        ),
    )
    published = CommentPublished(
        subject="camp",
        data=CommentPublishedData(comment_id="c1", text="redacted", language="he"),
    )
    insert, publish = comment_changes([submitted, published])
    # the submission never overwrites a status that a later event may already have set
    assert "status" not in insert._doc["$set"]
    assert insert._doc["$setOnInsert"]["status"] == "pending"
    # the publication applies only over an older status (stale events are skipped)
    assert publish._filter["status_at"] == {"$lte": publish._doc["$set"]["status_at"]}
    assert publish._doc["$set"]["status"] == "published"
    assert publish._doc["$set"]["public_text"] == "redacted"
