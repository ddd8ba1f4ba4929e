"""Matching keys for Hebrew, Arabic and English text.

The text a participant wrote is kept as it is for display; rules match on a *key* in which the
many ways of writing the same word coincide: compatibility forms, vowel points and cantillation,
harakat, tatweel, invisible characters, letter variants and final letters, and case.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

TATWEEL = "\u0640"

# Arabic letter variants that spelling treats as interchangeable. The hamza-carrying alefs also
# lose their hamza when marks are dropped; listing them keeps ``fold_letters`` complete on its own.
_LETTER_VARIANTS = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",  # alef wasla
        "ى": "ي",  # alef maqsura
        "ی": "ي",  # Farsi yeh, common on Persian keyboards
        "ک": "ك",  # keheh
        "ة": "ه",  # ta marbuta
        # Hebrew final letters
        "ך": "כ",
        "ם": "מ",
        "ן": "נ",
        "ף": "פ",
        "ץ": "צ",
        # apostrophes, so "I’ll" and "I'll" read alike
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",
    }
)

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Normalised:
    original: str
    """The text as written: what is displayed (after redaction)."""
    key: str
    """The matching key: what rules and lexicons look at. Never displayed."""


def _is_invisible(char: str) -> bool:
    # Cf holds zero-width (U+200B-U+200D, U+2060, U+FEFF), bidi controls (U+200E/F, U+202A-E,
    # U+2066-9, U+061C) and soft hyphens: none changes what a word says.
    return char == TATWEEL or unicodedata.category(char) == "Cf"


def strip_marks(text: str) -> str:
    """Compatibility-normalise, then drop non-spacing marks and invisible characters.

    Removes niqqud and cantillation (Hebrew), harakat and Quranic marks (Arabic), accents (Latin),
    tatweel, zero-width and bidi control characters.
    """
    text = unicodedata.normalize("NFKC", text)
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(
        c for c in decomposed if unicodedata.category(c) != "Mn" and not _is_invisible(c)
    )
    return unicodedata.normalize("NFKC", kept)


def fold_letters(text: str) -> str:
    """Unify Arabic alef, ya and ta-marbuta variants and Hebrew final letters (nothing else).

    Safe on regular expressions: it maps letters only, so lexicon patterns are folded with it.
    """
    return text.translate(_LETTER_VARIANTS)


def matching_key(text: str) -> str:
    """The key rules match on: no marks or invisibles, letters folded, casefolded, single spaces."""
    key = fold_letters(strip_marks(text)).casefold()
    return _WHITESPACE.sub(" ", key).strip()


def normalise(text: str) -> Normalised:
    return Normalised(original=text, key=matching_key(text))
