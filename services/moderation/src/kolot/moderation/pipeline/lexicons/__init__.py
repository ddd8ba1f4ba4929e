"""The first rule set's data: per language, words and phrases by category, and threat patterns.

Entries are written as people spell them (with final letters, hamza, ta marbuta); the rule engine
folds them into matching keys when it loads them. Words match whole tokens only, after Hebrew
prefix letters (ו ה ב ל מ ש כ) and Arabic prefixes (و ف ب ل ك ال) are stripped, so a word
inside another word (Scunthorpe) never matches. Words that are also ordinary words in context
("kill", "כלב", "حمار") are listed only in phrases that leave no doubt ("יא כלב", "يا حمار").

Categories follow the flag reasons participants choose from: ``abuse`` (insults, vulgarity),
``hate`` (slurs against a group), ``threat`` (violence against a person or a group), ``spam``
(advertising, scams). ``mild`` words are insults that a heated but civil comment may also use
("idiotic", "מטומטם"): they send a comment to a person instead of rejecting it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Category = Literal["threat", "hate", "abuse", "spam"]
LexiconLanguage = Literal["he", "ar", "en"]


@dataclass(frozen=True, slots=True)
class Lexicon:
    language: LexiconLanguage
    words: dict[Category, tuple[str, ...]]
    """Words and phrases (space-separated words) by category."""
    threats: tuple[str, ...]
    """Regular expressions matched on the matching key (lower case, no marks, letters folded)."""
    mild: tuple[str, ...] = ()
    """Insults that are ``abuse`` but not certain enough to reject without a person."""
    hate_patterns: tuple[str, ...] = ()
    """Regular expressions for hate against a group said without a slur ("all X out")."""
    spam: tuple[str, ...] = ()
    """Regular expressions for advertising and scams."""
    possible_threats: tuple[str, ...] = ()
    """Regular expressions for violence aimed at "you" without a clear threat ("kill you"):
    sent to a person, since nobody can list every way of threatening."""
    protected: frozenset[str] = field(default_factory=frozenset)
    """Ordinary words that look like prefix + lexicon word (מזונות = alimony, not מ + זונות)."""


def all_lexicons() -> tuple[Lexicon, ...]:
    from kolot.moderation.pipeline.lexicons import arabic, english, hebrew

    return (hebrew.LEXICON, arabic.LEXICON, english.LEXICON)


__all__ = ["Category", "Lexicon", "LexiconLanguage", "all_lexicons"]
