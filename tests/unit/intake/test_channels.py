"""Inbound SMS/WhatsApp: signatures, routing by short code or keyword, senders' pseudonyms."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kolot.common.events import CampaignSnapshot, LocalizedText
from kolot.intake.campaigns import CampaignDirectory
from kolot.intake.channels import (
    MAX_SKEW_SECONDS,
    ChannelGateway,
    InboundMessage,
    KnownSenders,
    first_word,
    guess_language,
    reply_text,
    route,
    short_ref,
    sign,
    signature_refusal,
)
from kolot.intake.ratelimit import Rate, RateLimiter

SECRET = "channel-secret-for-tests"
BODY = '{"message_id":"m1","from":"+972501234567","to":"4545","text":"אוטובוס עוד קו"}'.encode()
NOW = 1_790_000_000.0


def test_a_correct_signature_is_accepted() -> None:
    timestamp = str(int(NOW))
    assert (
        signature_refusal(SECRET, timestamp, sign(SECRET, timestamp, BODY), BODY, now=NOW) is None
    )


@pytest.mark.parametrize(
    ("timestamp", "signature", "reason"),
    [
        (None, "v1=00", "required"),
        (str(int(NOW)), None, "required"),
        ("yesterday", "v1=00", "Unix time"),
        (str(int(NOW)), "v1=" + "0" * 64, "does not match"),
        (str(int(NOW)), sign("another-secret", str(int(NOW)), BODY), "does not match"),
    ],
)
def test_unsigned_or_wrongly_signed_requests_are_refused(
    timestamp: str | None, signature: str | None, reason: str
) -> None:
    refusal = signature_refusal(SECRET, timestamp, signature, BODY, now=NOW)
    assert refusal is not None
    assert reason in refusal


def test_the_signature_covers_the_body_and_the_timestamp() -> None:
    timestamp = str(int(NOW))
    signature = sign(SECRET, timestamp, BODY)
    tampered = BODY.replace(b"4545", b"4546")
    assert signature_refusal(SECRET, timestamp, signature, tampered, now=NOW) is not None
    # the same signature with another timestamp: the timestamp is signed too
    later = str(int(NOW) + 1)
    assert signature_refusal(SECRET, later, signature, BODY, now=NOW) is not None


@pytest.mark.parametrize("age", [MAX_SKEW_SECONDS + 1, -(MAX_SKEW_SECONDS + 1), 86_400])
def test_old_or_future_signed_requests_are_refused_as_replays(age: int) -> None:
    timestamp = str(int(NOW) - age)
    refusal = signature_refusal(SECRET, timestamp, sign(SECRET, timestamp, BODY), BODY, now=NOW)
    assert refusal is not None
    assert "from now" in refusal


def test_within_the_window_a_slow_request_is_still_accepted() -> None:
    timestamp = str(int(NOW) - MAX_SKEW_SECONDS + 5)
    assert (
        signature_refusal(SECRET, timestamp, sign(SECRET, timestamp, BODY), BODY, now=NOW) is None
    )


def test_during_secret_rotation_any_offered_signature_may_match() -> None:
    timestamp = str(int(NOW))
    both = f"{sign('old-secret', timestamp, BODY)}, {sign(SECRET, timestamp, BODY)}"
    assert signature_refusal(SECRET, timestamp, both, BODY, now=NOW) is None


# the message ---------------------------------------------------------------------------


def test_a_message_needs_an_e164_sender() -> None:
    message = InboundMessage.model_validate_json(BODY)
    assert message.sender == "+972501234567"
    for bad in ("0501234567", "+0501234567", "972501234567", "+97250123456789012"):
        with pytest.raises(ValidationError):
            InboundMessage.model_validate(
                {"message_id": "m", "from": bad, "to": "4545", "text": "x"}
            )


def test_provider_fields_kolot_does_not_use_are_ignored() -> None:
    message = InboundMessage.model_validate(
        {"message_id": "m", "from": "+972501234567", "to": "4545", "text": "x", "segments": 2}
    )
    assert message.text == "x"


# routing -------------------------------------------------------------------------------


def campaign(campaign_id: str, **fields: object) -> CampaignSnapshot:
    return CampaignSnapshot.model_validate(
        {
            "campaign_id": campaign_id,
            "status": "open",
            "title": LocalizedText(he="תחבורה", ar="مواصلات", en="Transport"),
            **fields,
        }
    )


@pytest.fixture
def directory() -> CampaignDirectory:
    async def nothing(_: str) -> CampaignSnapshot | None:
        return None

    found = CampaignDirectory(nothing)
    found.apply(campaign("bus", keyword="bus", short_code="4545"))
    found.apply(campaign("park", keyword="פארק", default_language="ar"))
    found.apply(campaign("old", keyword="old", status="archived"))
    return found


def test_a_campaigns_short_code_routes_without_a_keyword(directory: CampaignDirectory) -> None:
    found = route(directory, "4545", "צריך עוד קווים בלילה")
    assert found is not None
    assert found.campaign.campaign_id == "bus"
    assert found.text == "צריך עוד קווים בלילה"


def test_the_keyword_is_removed_when_written_to_the_short_code(
    directory: CampaignDirectory,
) -> None:
    found = route(directory, "+4545", "BUS: more night lines")
    assert found is not None
    assert found.campaign.campaign_id == "bus"
    assert found.text == "more night lines"


def test_a_shared_number_routes_by_the_first_word_casefolded(directory: CampaignDirectory) -> None:
    found = route(directory, "+972529999999", "  Bus\nלילה טוב יותר")
    assert found is not None
    assert (found.campaign.campaign_id, found.text) == ("bus", "לילה טוב יותר")
    hebrew = route(directory, "+972529999999", "פארק, יותר צל בבקשה")
    assert hebrew is not None
    assert (hebrew.campaign.campaign_id, hebrew.text) == ("park", "יותר צל בבקשה")


def test_unknown_keywords_and_archived_campaigns_do_not_route(directory: CampaignDirectory) -> None:
    assert route(directory, "+972529999999", "hello there") is None
    assert route(directory, "+972529999999", "old is gold") is None
    assert route(directory, "+972529999999", "") is None


def test_first_word_folds_width_and_punctuation() -> None:
    assert first_word("ＢＵＳ! yes") == ("bus", "yes")
    assert first_word("مواصلات، نعم") == ("مواصلات", "نعم")
    assert first_word("   ") == ("", "")


# senders and replies -------------------------------------------------------------------


def gateway() -> ChannelGateway:
    return ChannelGateway(
        service=None,  # type: ignore[arg-type]  # the pseudonym needs no service
        channel_secret=SECRET,
        participant_secret="participant-secret-for-tests",
        limiter=RateLimiter(Rate(10, 3)),
        max_comment_chars=100,
    )


def test_a_sender_is_a_stable_pseudonym_that_does_not_contain_the_number() -> None:
    one, other = gateway(), gateway()
    pid = one.participant_id("+972501234567")
    assert pid == other.participant_id("+972501234567")
    assert pid != one.participant_id("+972501234568")
    assert "972501234567" not in pid.replace("-", "")
    keyed = ChannelGateway(
        service=None,  # type: ignore[arg-type]
        channel_secret=SECRET,
        participant_secret="another-installation",
        limiter=RateLimiter(Rate(10, 3)),
        max_comment_chars=100,
    )
    # keyed: without the installation's secret, a number cannot be tried against the ids
    assert keyed.participant_id("+972501234567") != pid


def test_known_senders_forget_the_least_recently_seen() -> None:
    known = KnownSenders(capacity=2)
    known.add("a")
    known.add("b")
    assert "a" in known  # a is now the most recent
    known.add("c")
    assert "b" not in known
    assert "a" in known
    assert "c" in known
    assert len(known) == 2


def test_the_reply_language_follows_the_script() -> None:
    assert guess_language("שלום עולם") == "he"
    assert guess_language("مرحبا بالعالم") == "ar"
    assert guess_language("hello") == "en"
    assert guess_language("123") == "he"


def test_replies_name_the_comment_by_its_short_reference() -> None:
    ref = short_ref("0192f3c4-89ab-7def-8123-456789abcdef")
    assert ref == "0192F3C4"
    for language in ("he", "ar", "en"):
        text = reply_text("accepted", language, title="T", ref=ref)
        assert ref in text
