"""The participation rules of a consultation, as pure functions: circles, survey answers, replies.

No I/O here: the service asks these functions and turns their refusals into problem documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kolot.common.auth import Participant
from kolot.common.events import CampaignSnapshot, Circle, Question
from kolot.intake.text import clean_text

MAX_REPLY_DEPTH = 3


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    kind: str
    title: str
    detail: str


def circle_refusal(
    campaign: CampaignSnapshot, circle_id: str | None, participant: Participant
) -> Refusal | None:
    """Why ``participant`` may not take part in ``circle_id`` (None: the public, or allowed)."""
    if circle_id is None:
        return None
    circle = campaign.circle(circle_id)
    if circle is None:
        return Refusal(
            422, "unknown-circle", "No such circle", f"this consultation has no circle {circle_id}"
        )
    if circle.access == "public" or circle_id in participant.circles:
        return None
    how = (
        "redeem the invitation you received"
        if circle.access == "invitation"
        else "ask the ministry to verify you for it"
    )
    return Refusal(
        403,
        "circle-closed",
        "This circle is closed",
        f"the circle {circle_id} is for its members only: {how} (POST /v1/participants/me/"
        "invitations), then use the new token",
    )


def visible_circles(campaign: CampaignSnapshot, circle_id: str) -> list[str]:
    """The circles whose published comments are shown in ``circle_id``: itself and every circle
    that forwards its output to it."""
    circles = [Circle.model_validate(c) for c in campaign.circles]
    return [circle_id] + [c.id for c in circles if circle_id in c.forwards_to and c.id != circle_id]


def reply_depth(parent_depth: int) -> int | None:
    """The depth of a reply to a comment at ``parent_depth``, or None when it would be too deep."""
    depth = parent_depth + 1
    return depth if depth <= MAX_REPLY_DEPTH else None


class AnswerErrors(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def validate_answers(questions: list[Question], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers, checked against the survey and normalised; raises ``AnswerErrors`` naming
    every question that is wrong, so a participant can fix them all at once."""
    by_id = {q.id: q for q in questions}
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key in answers:
        if key not in by_id:
            errors[key] = "no such question in this consultation"
    for question in questions:
        if question.id not in answers or answers[question.id] in (None, "", []):
            if question.required:
                errors[question.id] = "an answer is required"
            continue
        try:
            cleaned[question.id] = _answer(question, answers[question.id])
        except ValueError as exc:
            errors[question.id] = str(exc)
    if errors:
        raise AnswerErrors(errors)
    if not cleaned:
        raise AnswerErrors({"answers": "answer at least one question"})
    return cleaned


def _answer(question: Question, value: Any) -> Any:
    options = {o.id for o in question.options}
    match question.kind:
        case "single":
            if not isinstance(value, str) or value not in options:
                raise ValueError(f"choose one of: {', '.join(sorted(options))}")
            return value
        case "multiple":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError("give a list of option ids")
            chosen = list(dict.fromkeys(value))
            unknown = [v for v in chosen if v not in options]
            if unknown:
                raise ValueError(f"unknown options: {', '.join(unknown)}")
            if question.max_choices is not None and len(chosen) > question.max_choices:
                raise ValueError(f"choose at most {question.max_choices}")
            return chosen
        case "scale":
            # bool is an int in Python; true is not a 1 on a scale
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(
                    f"give a whole number from {question.scale_min} to {question.scale_max}"
                )
            if not question.scale_min <= value <= question.scale_max:
                raise ValueError(f"give a number from {question.scale_min} to {question.scale_max}")
            return value
        case "text":
            if not isinstance(value, str):
                raise ValueError("give a text")
            text = clean_text(value)
            if len(text) > question.max_chars:
                raise ValueError(f"at most {question.max_chars} characters")
            return text
    raise ValueError("unsupported question")  # pragma: no cover - the Literal is exhaustive
