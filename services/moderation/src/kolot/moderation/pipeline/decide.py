"""The decision on one comment: normalise, detect the language, redact, apply the rules, decide."""

from __future__ import annotations

from dataclasses import dataclass, field

from kolot.common.events import Decision, ModerationMode
from kolot.moderation.pipeline.language import Language, Script, detect_language
from kolot.moderation.pipeline.normalise import normalise
from kolot.moderation.pipeline.redact import PiiKind, redact
from kolot.moderation.pipeline.rules import (
    CATEGORIES,
    DEFAULT_RULES,
    RuleHit,
    RuleSet,
    check_rules,
)
from kolot.moderation.pipeline.statements import rejection_statement, review_statement

PRE_MODERATION = "pre_moderation"
"""The reason of a ``review`` decision taken because the campaign is pre-moderated."""


@dataclass(frozen=True, slots=True)
class ModerationDecision:
    decision: Decision
    reasons: tuple[str, ...]
    """Machine-readable: rule categories (``threat``, ``hate``, ``abuse``) or ``pre_moderation``."""
    statement: str | None
    """The statement of reasons the author reads, in their language (None when approved)."""
    scores: dict[str, float]
    language: Language
    language_mix: dict[Script, float]
    redacted_text: str
    redactions: tuple[PiiKind, ...]
    hits: tuple[RuleHit, ...] = field(default=())


def decide(
    text: str, *, mode: ModerationMode, rules: RuleSet = DEFAULT_RULES
) -> ModerationDecision:
    """Reject what breaks a rule; in a pre-moderated campaign let a person decide the rest.

    Post-moderated and automatic campaigns publish what passes at once (post-moderation reviews
    published comments afterwards, through flags and the moderators' own reading).
    """
    normalised = normalise(text)
    guess = detect_language(normalised.key)
    redaction = redact(text)
    hits = check_rules(normalised.key, rules=rules)
    categories = {hit.category for hit in hits}
    reasons: tuple[str, ...] = tuple(c for c in CATEGORIES if c in categories)
    scores = {"rules": 1.0 if hits else 0.0}
    decision: Decision
    if reasons:
        decision = "reject"
        statement: str | None = rejection_statement(reasons, language=guess.language)
    elif mode == "pre":
        decision = "review"
        reasons = (PRE_MODERATION,)
        statement = review_statement(language=guess.language)
    else:
        decision = "approve"
        statement = None
    return ModerationDecision(
        decision=decision,
        reasons=reasons,
        statement=statement,
        scores=scores,
        language=guess.language,
        language_mix=guess.mix,
        redacted_text=redaction.text,
        redactions=redaction.kinds,
        hits=hits,
    )
