"""The moderation pipeline: pure functions, no I/O.

normalise -> detect_language -> redact -> rules -> decide.
"""

from kolot.moderation.pipeline.decide import PRE_MODERATION, ModerationDecision, decide
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
    "PRE_MODERATION",
    "Finding",
    "Language",
    "LanguageGuess",
    "ModerationDecision",
    "Normalised",
    "PiiKind",
    "Redaction",
    "RuleHit",
    "RuleSet",
    "check_rules",
    "decide",
    "detect_language",
    "israeli_id_valid",
    "luhn_valid",
    "matching_key",
    "normalise",
    "redact",
    "to_ascii_digits",
]
