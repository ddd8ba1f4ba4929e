"""Inbound SMS and WhatsApp messages: provider signatures, routing, pseudonymous senders, replies.

Provider-agnostic: an adapter at the provider (or the provider itself) posts one JSON document per
message, signed with HMAC-SHA256 over ``<timestamp>.<raw body>`` (docs/channels.md). The phone
number is used for two things only, both here and in memory: the keyed hash that becomes the
sender's pseudonymous participant id, and the per-sender rate limit (keyed by that id). It never
reaches the bus, the store or the logs.

A message becomes a comment through ``IntakeService.submit_comment`` (same cleaning, limits and
campaign rules as the web). The provider's message id is the idempotency key, so a provider that
retries after a lost answer stores the message once, and gets the same reply.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kolot.common.auth import Participant
from kolot.common.events import (
    CampaignSnapshot,
    ParticipantRegistered,
    ParticipantRegisteredData,
    Provenance,
    derived_id,
)
from kolot.intake.campaigns import CampaignDirectory
from kolot.intake.ratelimit import RateLimiter
from kolot.intake.schemas import CommentCreate
from kolot.intake.service import IntakeError, IntakeService, Origin

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Kolot-Signature"
TIMESTAMP_HEADER = "X-Kolot-Timestamp"
MAX_SKEW_SECONDS = 300
"""A signed request older (or further in the future) than this is refused: replays stay short."""

InboundChannel = Literal["sms", "whatsapp"]
Language = Literal["he", "ar", "en"]


# signatures ------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Kolot-Signature`` value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signature_refusal(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, *, now: float
) -> str | None:
    """Why the request is not authentic (None: it is). Several ``v1=`` values may be sent,
    comma-separated, so that a provider can sign with a new and an old secret while they rotate."""
    if not timestamp or not signature:
        return f"sign the request: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required"
    if not timestamp.isdigit() or len(timestamp) > 12:
        return f"{TIMESTAMP_HEADER} must be Unix time in whole seconds"
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        return (
            f"the timestamp is more than {MAX_SKEW_SECONDS} s from now: sign each request "
            "when sending it (and check the sender's clock)"
        )
    expected = sign(secret, timestamp, body)
    offered = [part.strip() for part in signature.split(",")]
    # compare_digest on every candidate: the time taken says nothing about which one was close
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        return "the signature does not match the body and timestamp"
    return None


# the message -----------------------------------------------------------------------------

E164 = r"^\+[1-9][0-9]{6,14}$"


class InboundMessage(BaseModel):
    """One message as the provider received it. Unknown fields are ignored: provider adapters
    may pass along more than Kolot uses."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    message_id: str = Field(min_length=1, max_length=128)
    sender: str = Field(alias="from", pattern=E164, description="the sender's number, E.164")
    to: str = Field(min_length=1, max_length=32, description="the short code or number written to")
    text: str = Field(default="", max_length=50_000)
    received_at: datetime | None = None
    provider: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")


class InboundReply(BaseModel):
    """What the provider sends back to the sender (``reply``: nothing when null)."""

    reply: str | None
    status: Literal[
        "accepted", "unknown-keyword", "closed", "empty", "too-long", "help", "stop", "rate-limited"
    ]
    campaign_id: str | None = None
    comment_id: str | None = None


# routing ---------------------------------------------------------------------------------

_FIRST_WORD = re.compile(r"^\s*(\S+)\s*(.*)$", re.DOTALL)
_TRIM = ".,!?;:،؟\"'()[]"


@dataclass(frozen=True, slots=True)
class Route:
    campaign: CampaignSnapshot
    text: str
    """The message without the routing keyword."""


def first_word(text: str) -> tuple[str, str]:
    """The first word (casefolded, NFKC, without trailing punctuation) and the rest."""
    match = _FIRST_WORD.match(text)
    if not match:
        return "", ""
    word = unicodedata.normalize("NFKC", match.group(1)).casefold().strip(_TRIM)
    return word, match.group(2)


def _short_code_forms(to: str) -> list[str]:
    digits = to.strip().replace(" ", "").replace("-", "")
    bare = digits.removeprefix("+")
    return list(dict.fromkeys([digits, bare, f"+{bare}"]))


def route(directory: CampaignDirectory, to: str, text: str) -> Route | None:
    """The campaign a message is for: the short code written to, else the keyword it starts with.

    With a campaign's own short code the keyword is optional (and removed when present)."""
    word, rest = first_word(text)
    for code in _short_code_forms(to):
        found = directory.routing(short_code=code)
        if found:
            campaign = found[0]
            body = rest if word and campaign.keyword == word else text
            return Route(campaign, body)
    if word:
        found = directory.routing(keyword=word)
        if found:
            return Route(found[0], rest)
    return None


# commands and replies --------------------------------------------------------------------

# a command is the whole message: "stop the new road" is a comment, not a request to stop
STOP_WORDS = frozenset(
    {"stop", "unsubscribe", "end", "quit", "עצור", "הסר", "הפסק", "توقف", "الغاء", "إلغاء"}
)
HELP_WORDS = frozenset({"help", "info", "עזרה", "מידע", "مساعدة", "معلومات"})

_HEBREW = re.compile(r"[\u0590-\u05ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f]")


def guess_language(text: str) -> Language:
    """The sender's language from the script they wrote in, for replies without a campaign."""
    hebrew, arabic = len(_HEBREW.findall(text)), len(_ARABIC.findall(text))
    if hebrew == arabic == 0:
        return "en" if re.search(r"[A-Za-z]", text) else "he"
    return "he" if hebrew >= arabic else "ar"


def short_ref(comment_id: str) -> str:
    """The comment id's short form a sender can quote to the ministry (its first 8 hex digits)."""
    return comment_id.replace("-", "")[:8].upper()


_REPLIES: dict[str, dict[Language, str]] = {
    "accepted": {
        "he": 'תודה! תגובתך ל"{title}" התקבלה (מספר {ref}) ותפורסם לאחר בדיקה.',
        "ar": 'شكرًا! وصل تعليقك على "{title}" (رقم {ref}) وسيُنشر بعد المراجعة.',
        "en": 'Thank you! Your comment on "{title}" was received (ref {ref}) and will be '
        "published after review.",
    },
    "closed": {
        "he": 'ההתייעצות "{title}" אינה פתוחה כעת לתגובות. תודה על הפנייה.',
        "ar": 'الاستشارة "{title}" غير مفتوحة للتعليقات حاليًا. شكرًا لتواصلك.',
        "en": 'The consultation "{title}" is not open for comments now. Thank you for writing.',
    },
    "empty": {
        "he": 'כדי להגיב ל"{title}" כתבו את תגובתכם בהודעה{after_keyword}.',
        "ar": 'للتعليق على "{title}" اكتبوا تعليقكم في الرسالة{after_keyword}.',
        "en": 'To comment on "{title}", write your comment in the message{after_keyword}.',
    },
    "too-long": {
        "he": "ההודעה ארוכה מדי ({length} תווים, עד {limit}). אנא קצרו ושלחו שוב.",
        "ar": "الرسالة طويلة جدًا ({length} حرفًا، الحد {limit}). يرجى الاختصار وإعادة الإرسال.",
        "en": "The message is too long ({length} characters, at most {limit}). Please shorten it "
        "and send it again.",
    },
    "unknown-keyword": {
        "he": "לא זיהינו לאיזו התייעצות ההודעה מיועדת. כדי להשתתף, פתחו את ההודעה במילת "
        "המפתח של ההתייעצות ואחריה תגובתכם{examples}.",
        "ar": "لم نتعرف على الاستشارة المقصودة. للمشاركة، ابدأوا الرسالة بالكلمة المفتاحية "
        "للاستشارة ثم تعليقكم{examples}.",
        "en": "We could not tell which consultation this is for. To take part, start your "
        "message with the consultation's keyword, then your comment{examples}.",
    },
    "stop": {
        "he": "לא נשלח לך הודעות. אנו עונים רק להודעות שאת/ה שולח/ת.",
        "ar": "لن نرسل إليك رسائل. نحن نرد فقط على الرسائل التي ترسلها.",
        "en": "We will not send you messages. We only ever answer messages you send.",
    },
    "rate-limited": {
        "he": "התקבלו ממך הודעות רבות בזמן קצר. נסו שוב בעוד {minutes} דקות.",
        "ar": "وصلتنا منك رسائل كثيرة خلال وقت قصير. حاولوا مجددًا بعد {minutes} دقائق.",
        "en": "We received many messages from you in a short time. Try again in {minutes} min.",
    },
}
_AFTER_KEYWORD: dict[Language, str] = {
    "he": " אחרי מילת המפתח {keyword}",
    "ar": " بعد الكلمة المفتاحية {keyword}",
    "en": " after the keyword {keyword}",
}
_EXAMPLES: dict[Language, str] = {
    "he": ". למשל: {list}",
    "ar": ". مثلًا: {list}",
    "en": ", e.g. {list}",
}


def title_in(campaign: CampaignSnapshot, language: Language) -> str:
    title = campaign.title
    return getattr(title, language) or title.he or title.ar or title.en or campaign.campaign_id


def reply_text(kind: str, language: Language, **values: str | int) -> str:
    return _REPLIES[kind][language].format(**values)


# the gateway -----------------------------------------------------------------------------


class KnownSenders:
    """Participant ids registered recently by this replica (LRU), so that a sender's every message
    does not publish their registration again. Forgetting costs one duplicate publish, which the
    registration's deterministic id makes harmless."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, participant_id: object) -> bool:
        if participant_id in self._ids:
            assert isinstance(participant_id, str)
            self._ids.move_to_end(participant_id)
            return True
        return False

    def add(self, participant_id: str) -> None:
        self._ids[participant_id] = None
        self._ids.move_to_end(participant_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)

    def __len__(self) -> int:
        return len(self._ids)


class ChannelGateway:
    def __init__(
        self,
        *,
        service: IntakeService,
        channel_secret: str,
        participant_secret: str,
        limiter: RateLimiter,
        max_comment_chars: int,
        known: KnownSenders | None = None,
    ) -> None:
        self.service = service
        self.channel_secret = channel_secret
        self.limiter = limiter
        self.known = known if known is not None else KnownSenders()
        self._max_comment_chars = max_comment_chars
        # a key of its own for phone numbers, derived from the participant secret
        self._phone_key = hmac.new(
            participant_secret.encode(), b"kolot sms sender", hashlib.sha256
        ).digest()
        self._keywords: list[str] = []
        self._keywords_until = 0.0

    def participant_id(self, phone: str) -> str:
        digest = hmac.new(self._phone_key, phone.encode(), hashlib.sha256).hexdigest()
        return derived_id("sms-participant", digest)

    async def receive(self, channel: InboundChannel, message: InboundMessage) -> InboundReply:
        directory = self.service.directory
        participant_id = self.participant_id(message.sender)
        word, _ = first_word(message.text)
        whole = word if not message.text.split()[1:] else ""
        found = route(directory, message.to, message.text)
        language: Language = (
            found.campaign.default_language if found else guess_language(message.text)
        )

        if whole in STOP_WORDS:
            return InboundReply(reply=reply_text("stop", language), status="stop")
        wait = self.limiter.check(participant_id)
        if wait:
            minutes = max(1, round(wait / 60))
            return InboundReply(
                reply=reply_text("rate-limited", language, minutes=minutes), status="rate-limited"
            )
        if found is None or whole in HELP_WORDS:
            return await self._how_to_take_part(language, "help" if whole in HELP_WORDS else None)

        campaign = found.campaign
        title = title_in(campaign, language)
        base = InboundReply(reply=None, status="accepted", campaign_id=campaign.campaign_id)
        if campaign.status != "open":
            return base.model_copy(
                update={"reply": reply_text("closed", language, title=title), "status": "closed"}
            )
        if not found.text.strip():
            after = (
                _AFTER_KEYWORD[language].format(keyword=campaign.keyword.upper())
                if campaign.keyword
                else ""
            )
            return base.model_copy(
                update={
                    "reply": reply_text("empty", language, title=title, after_keyword=after),
                    "status": "empty",
                }
            )

        await self._register(channel, participant_id, campaign.campaign_id)
        key = f"{channel}:{message.provider or '-'}:{message.message_id}"
        try:
            submitted = await self.service.submit_comment(
                campaign.campaign_id,
                CommentCreate(text=found.text),
                author=Participant(participant_id=participant_id),
                idempotency_key=key,
                origin=Origin(channel=channel, provenance=Provenance(provider=message.provider)),
            )
        except IntakeError as exc:
            if exc.kind == "campaign-not-open":
                return base.model_copy(
                    update={
                        "reply": reply_text("closed", language, title=title),
                        "status": "closed",
                    }
                )
            if exc.kind == "comment-too-long":
                return base.model_copy(
                    update={
                        "reply": reply_text(
                            "too-long",
                            language,
                            length=len(found.text.strip()),
                            limit=self._max_comment_chars,
                        ),
                        "status": "too-long",
                    }
                )
            if exc.status == 422:  # nothing left after cleaning (only control characters)
                after = ""
                return base.model_copy(
                    update={
                        "reply": reply_text("empty", language, title=title, after_keyword=after),
                        "status": "empty",
                    }
                )
            raise
        return base.model_copy(
            update={
                "reply": reply_text("accepted", language, title=title, ref=short_ref(submitted.id)),
                "comment_id": submitted.id,
            }
        )

    async def _how_to_take_part(self, language: Language, status: str | None) -> InboundReply:
        keywords = await self._open_keywords()
        examples = _EXAMPLES[language].format(list=", ".join(keywords)) if keywords else ""
        return InboundReply(
            reply=reply_text("unknown-keyword", language, examples=examples),
            status="help" if status == "help" else "unknown-keyword",
        )

    async def _open_keywords(self, limit: int = 5) -> list[str]:
        """Keywords of open consultations (kept SMS-short), from the store at most every 30 s:
        a flood of unroutable messages must not become a flood of queries."""
        now = time.monotonic()
        if now >= self._keywords_until:
            campaigns = await self.service.repository.list_campaigns(statuses=["open"])
            self._keywords = sorted({c.keyword.upper() for c in campaigns if c.keyword})
            self._keywords_until = now + 30.0
        return self._keywords[:limit]

    async def _register(
        self, channel: InboundChannel, participant_id: str, campaign_id: str
    ) -> None:
        if participant_id in self.known:
            return
        await self.service.publisher.publish(
            ParticipantRegistered(
                # the same id as any earlier registration of this sender: the stream keeps one
                id=derived_id("registered", participant_id),
                subject=campaign_id,
                data=ParticipantRegisteredData(
                    participant_id=participant_id,
                    source=channel,
                    channel=channel,
                    campaign_id=campaign_id,
                ),
            )
        )
        self.known.add(participant_id)
