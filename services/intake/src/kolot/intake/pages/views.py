"""What the participation page shows, shaped for its templates: texts with their language,
comment threads, the author's own comments, a refused form, survey questions. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kolot.common.events import LocalizedText, Question
from kolot.common.store import Document
from kolot.intake.pages.text import LANGUAGES, Language, language_of


@dataclass(frozen=True, slots=True)
class Shown:
    """A text and the language it is in (marked up when it differs from the page's)."""

    text: str
    lang: str | None


def localized(text: LocalizedText, lang: Language, fallback: str) -> Shown | None:
    for language in (lang, fallback, *LANGUAGES):
        value = getattr(text, language, None)
        if value and value.strip():
            return Shown(value, language)
    return None


def when(value: Any) -> str:
    """Stored times are fixed-width UTC text (``stamp``): shown as ``YYYY-MM-DD HH:MM``."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value or "")
    return text[:16].replace("T", " ") if len(text) >= 16 else text


@dataclass
class CommentNode:
    id: str
    text: str
    lang: str | None
    created_at: str
    support: int
    depth: int
    kind: str
    author: str | None
    """The author's pseudonymous id: never rendered, only compared with the viewer's (no votes
    on or reports of one's own comment)."""
    children: list[CommentNode] = field(default_factory=list)

    @classmethod
    def of(cls, doc: Document) -> CommentNode:
        return cls(
            id=str(doc["_id"]),
            text=str(doc.get("public_text") or ""),
            lang=language_of(doc.get("language")),
            created_at=when(doc.get("created_at")),
            support=int(doc.get("support") or 0),
            depth=int(doc.get("depth") or 0),
            kind=str(doc.get("kind") or "person"),
            author=doc.get("participant_id"),
        )


@dataclass(frozen=True, slots=True)
class OwnItem:
    id: str
    text: str
    status: str
    created_at: str
    statement: str | None
    appeal_status: str | None


@dataclass
class Failure:
    """A post that was refused: which form, the message per field, what the person had typed."""

    form: str
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)
    alert: str | None = None


Page = tuple[list[CommentNode], str | None]
"""A page of published comments (threads) and the cursor of the next one."""


@dataclass(frozen=True, slots=True)
class QuestionView:
    id: str
    kind: str
    prompt: Shown | None
    required: bool
    options: list[tuple[str, Shown | None]]
    max_choices: int | None
    scale: list[int]
    scale_min: int
    scale_max: int
    max_chars: int


def question_view(question: Question, lang: Language, fallback: str) -> QuestionView:
    wide = question.scale_max - question.scale_min > 10
    return QuestionView(
        id=question.id,
        kind="range" if question.kind == "scale" and wide else question.kind,
        prompt=localized(question.prompt, lang, fallback),
        required=question.required,
        options=[(o.id, localized(o.label, lang, fallback)) for o in question.options],
        max_choices=question.max_choices,
        scale=list(range(question.scale_min, question.scale_max + 1)) if not wide else [],
        scale_min=question.scale_min,
        scale_max=question.scale_max,
        max_chars=question.max_chars,
    )
