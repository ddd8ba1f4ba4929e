"""The decision on comments: analyse each text, then apply the campaign's policy.

``analyse_batch`` runs the text pipeline on a batch (normalise, language, redaction, rules, and
the secondary model signals, which are ~50x faster called once per batch than once per text).
``decide_analysis`` turns one analysis and the signals only the service knows (near-duplicates,
bursts, the classifier moderators train) into a decision with reasons and scores:

- certain breaches (a threat, hate, vulgar abuse, blatant spam) are rejected in every mode;
- the uncertain band (a mild insult, one spam marker, a high classifier score, a burst) goes to a
  person in ``auto``, is published in ``post`` (people review it through flags) and goes to a
  person in ``pre``, where everything else does too;
- everything else is published in ``auto`` and ``post``.

Civil criticism, however harsh, carries none of these signals: lexicons hold insults and slurs,
never words of disagreement, and verbs like "kill" count only in patterns aimed at people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kolot.common.events import Decision, ModerationMode
from kolot.moderation.pipeline.language import Language, Script, detect_language, latin_languages
from kolot.moderation.pipeline.lexicons import Category
from kolot.moderation.pipeline.normalise import normalise
from kolot.moderation.pipeline.redact import PiiKind, redact
from kolot.moderation.pipeline.rules import (
    CATEGORIES,
    DEFAULT_RULES,
    RuleHit,
    RuleSet,
    check_rules,
)
from kolot.moderation.pipeline.statements import (
    published_statement,
    rejection_statement,
    review_statement,
)

PRE_MODERATION = "pre_moderation"
"""The reason of a ``review`` decision taken because the campaign is pre-moderated."""
PII_REDACTED = "pii_redacted"
DUPLICATE = "duplicate"
SPAM = "spam"

LEARNED_REVIEW = 0.8
"""A classifier score (trained by moderators) from which a comment goes to a person."""


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the text pipeline found in one comment (no policy applied yet)."""

    language: Language
    language_mix: dict[Script, float]
    transliterated: bool
    redacted_text: str
    redactions: tuple[PiiKind, ...]
    hits: tuple[RuleHit, ...]
    key: str
    """The matching key (for duplicate detection and the classifier; never displayed)."""

    @property
    def rules_score(self) -> float:
        return max((hit.severity for hit in self.hits), default=0.0)


@dataclass(frozen=True, slots=True)
class Signals:
    """What only the service knows about a comment: its cluster, its author's pace, the model."""

    learned: float | None = None
    """The probability the moderators' classifier gives that a person would reject it."""
    duplicate: bool = False
    """A copy of a comment already in the campaign (a form letter): published within its cluster."""
    burst: bool = False
    """Its author or address sent more than a person plausibly writes in the window."""


@dataclass(frozen=True, slots=True)
class ModerationDecision:
    decision: Decision
    reasons: tuple[str, ...]
    """Machine-readable: categories (``threat``, ``hate``, ``abuse``, ``spam``), ``pii_redacted``,
    ``duplicate``, or ``pre_moderation``."""
    statement: str | None
    """The statement of reasons the author reads, in their language (None: nothing to say)."""
    scores: dict[str, float]
    language: Language
    language_mix: dict[Script, float]
    redacted_text: str
    redactions: tuple[PiiKind, ...]
    hits: tuple[RuleHit, ...] = field(default=())
    risk: float = 0.0
    """0-1: how likely a person would reject it; orders the moderators' queue."""


def analyse(text: str, *, rules: RuleSet = DEFAULT_RULES) -> Analysis:
    normalised = normalise(text)
    guess = detect_language(normalised.key)
    redaction = redact(text)
    return Analysis(
        language=guess.language,
        language_mix=dict(guess.mix),
        transliterated=guess.transliterated,
        redacted_text=redaction.text,
        redactions=redaction.kinds,
        hits=check_rules(*normalised.keys, rules=rules),
        key=normalised.folded or normalised.key,
    )


def analyse_batch(texts: Sequence[str], *, rules: RuleSet = DEFAULT_RULES) -> list[Analysis]:
    analyses = [analyse(text, rules=rules) for text in texts]
    # Latin-script text that is neither English nor transliterated he/ar: one batched call
    latin = [
        i
        for i, a in enumerate(analyses)
        if a.language == "en" and not a.transliterated and len(a.key) >= 20
    ]
    for index, other in zip(latin, latin_languages([analyses[i].key for i in latin]), strict=True):
        if other:
            a = analyses[index]
            analyses[index] = Analysis(
                language="und",
                language_mix=a.language_mix,
                transliterated=False,
                redacted_text=a.redacted_text,
                redactions=a.redactions,
                hits=a.hits,
                key=a.key,
            )
    return analyses


def decide_analysis(
    analysis: Analysis, *, mode: ModerationMode, signals: Signals = Signals()
) -> ModerationDecision:
    hits = analysis.hits
    certain: set[Category] = {
        h.category for h in hits if h.severity >= 1.0 and h.category != "spam"
    }
    spam_hits = {h.match for h in hits if h.category == "spam"}
    uncertain: set[Category] = {h.category for h in hits if h.severity < 1.0}
    if len(spam_hits) >= 2:
        certain.add("spam")
    elif spam_hits or signals.burst:
        uncertain.add("spam")
    # the moderators' model names no category: it only says people rejected texts like this
    learned_doubt = signals.learned is not None and signals.learned >= LEARNED_REVIEW
    scores = {"rules": analysis.rules_score}
    if signals.learned is not None:
        scores["learned"] = round(signals.learned, 3)
    if signals.burst:
        scores["burst"] = 1.0
    risk = max(
        1.0 if certain else 0.0,
        analysis.rules_score * (0.6 if spam_hits and not certain else 1.0),
        signals.learned or 0.0,
        0.5 if signals.burst else 0.0,
    )
    notes = ((PII_REDACTED,) if analysis.redactions else ()) + (
        (DUPLICATE,) if signals.duplicate else ()
    )
    decision: Decision
    statement: str | None
    if certain:
        decision = "reject"
        reasons = tuple(c for c in CATEGORIES if c in certain | uncertain) + notes
        statement = rejection_statement(reasons, language=analysis.language)
    elif mode == "pre" or ((uncertain or learned_doubt) and mode == "auto"):
        decision = "review"
        why = tuple(c for c in CATEGORIES if c in uncertain)
        reasons = (why or ((PRE_MODERATION,) if mode == "pre" else ())) + notes
        statement = review_statement(language=analysis.language)
    else:
        decision = "approve"
        reasons = tuple(c for c in CATEGORIES if c in uncertain) + notes
        statement = published_statement(reasons, language=analysis.language)
    return ModerationDecision(
        decision=decision,
        reasons=reasons,
        statement=statement,
        scores=scores,
        language=analysis.language,
        language_mix=analysis.language_mix,
        redacted_text=analysis.redacted_text,
        redactions=analysis.redactions,
        hits=hits,
        risk=round(risk, 3),
    )


def decide(
    text: str, *, mode: ModerationMode, rules: RuleSet = DEFAULT_RULES
) -> ModerationDecision:
    """One comment on its own (the service decides batches with ``analyse_batch``)."""
    return decide_analysis(analyse(text, rules=rules), mode=mode)
