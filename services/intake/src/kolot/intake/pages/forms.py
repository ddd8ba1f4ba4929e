"""What the participation page's plain HTML forms need beyond the service: their anti-forgery
tokens, reading a posted form, the survey's answers out of form fields, and the short-lived
"flash" that carries a receipt across the redirect after a post."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from kolot.common.events import Question

_SOURCE = re.compile(r"^[\w.\-]{1,64}$")
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FormGuard:
    """Anti-forgery tokens for the page's forms: an HMAC of whom the form was rendered for (the
    participant, or before the first post the visitor's random cookie), with a key derived from
    the participant secret. A forged cross-site form cannot know it; SameSite=Lax cookies are the
    first line, this is the second (older browsers, same-site subdomains)."""

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"kolot page forms", hashlib.sha256).digest()

    def token(self, subject: str) -> str:
        return _b64(hmac.new(self._key, subject.encode(), hashlib.sha256).digest()[:18])

    def check(self, given: str | None, subjects: Iterable[str]) -> bool:
        if not given:
            return False
        return any(hmac.compare_digest(given, self.token(subject)) for subject in subjects)


@dataclass(frozen=True, slots=True)
class Form:
    """A posted ``application/x-www-form-urlencoded`` body: every pair, in order."""

    pairs: list[tuple[str, str]]

    @classmethod
    def parse(cls, body: bytes) -> Form:
        text = body.decode("utf-8", errors="replace")
        return cls(parse_qsl(text, keep_blank_values=True, max_num_fields=1000))

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.pairs:
            if key == name:
                return value
        return default

    def values(self) -> dict[str, str]:
        return dict(self.pairs)


def source_of(value: str | None) -> str | None:
    """A dissemination source (``?source=`` / ``?utm_source=``) in the shape intake accepts."""
    return value if value and _SOURCE.match(value) else None


def idempotency_key(value: str | None) -> str | None:
    """The form's one-time key, so a double-clicked submit records one comment, not two."""
    return value if value and _KEY.match(value) else None


def survey_answers(questions: list[Question], form: Form) -> dict[str, Any]:
    """The answers in the form's ``q.<question id>`` fields, shaped as the JSON API takes them
    (``validate_answers`` then applies the same rules to both)."""
    given: dict[str, list[str]] = defaultdict(list)
    for key, value in form.pairs:
        if key.startswith("q.") and value.strip():
            given[key[2:]].append(value)
    answers: dict[str, Any] = {}
    for question in questions:
        values = given.get(question.id)
        if not values:
            continue
        if question.kind == "multiple":
            answers[question.id] = values
        elif question.kind == "scale":
            try:
                answers[question.id] = int(values[0])
            except ValueError:
                answers[question.id] = values[0]  # refused by the rules, with their message
        else:
            answers[question.id] = values[0]
    return answers


def short_code(receipt: str) -> str:
    """Eight characters a person can read out on the phone, derived from the signed receipt."""
    digest = base64.b32encode(hashlib.sha256(receipt.encode()).digest()).decode()
    return f"{digest[:4]}-{digest[4:8]}"


@dataclass(frozen=True, slots=True)
class Flash:
    """What the page shows once after a post: the receipt, and the start of the text sent (the
    read model may not have the comment yet when the browser follows the redirect)."""

    kind: str
    id: str
    receipt: str
    excerpt: str = ""

    def encode(self) -> str:
        data = {"k": self.kind, "i": self.id, "r": self.receipt, "x": self.excerpt[:160]}
        return _b64(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())

    @property
    def submitted_at(self) -> str | None:
        """When the receipt says the contribution was received (ISO 8601), read from its
        payload: shown to the person it was issued to, so the signature need not be checked."""
        try:
            payload = self.receipt.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            return str(claims["submitted_at"])
        except (IndexError, binascii.Error, ValueError, KeyError, TypeError):
            return None

    @classmethod
    def decode(cls, value: str | None) -> Flash | None:
        if not value:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            data = json.loads(raw)
            return cls(
                kind=str(data["k"]), id=str(data["i"]), receipt=str(data["r"]), excerpt=data["x"]
            )
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None
