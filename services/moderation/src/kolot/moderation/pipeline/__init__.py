"""The moderation pipeline: pure functions, no I/O.

normalise -> detect_language -> redact -> rules -> decide.
"""

from kolot.moderation.pipeline.decide import (
    DUPLICATE,
    PII_REDACTED,
    PRE_MODERATION,
    Analysis,
    ModerationDecision,
    Signals,
    analyse,
    analyse_batch,
    decide,
    decide_analysis,
)
from kolot.moderation.pipeline.language import Language, LanguageGuess, detect_language
from kolot.moderation.pipeline.normalise import Normalised, matching_key, normalise
from kolot.moderation.pipeline.redact import (
    Finding,
    PiiKind,
    Redaction,
    israeli_id_valid,
    luhn_valid,
    redact,
    to_ascii_digits,
)
from kolot.moderation.pipeline.rules import RuleHit, RuleSet, check_rules

__all__ = [
    "DUPLICATE",
    "PII_REDACTED",
    "PRE_MODERATION",
    "Analysis",
    "Finding",
    "Language",
    "LanguageGuess",
    "ModerationDecision",
    "Normalised",
    "PiiKind",
    "Redaction",
    "RuleHit",
    "RuleSet",
    "Signals",
    "analyse",
    "analyse_batch",
    "check_rules",
    "decide",
    "decide_analysis",
    "detect_language",
    "israeli_id_valid",
    "luhn_valid",
    "matching_key",
    "normalise",
    "redact",
    "to_ascii_digits",
]
