"""Matching keys for Hebrew, Arabic and English text.

The text a participant wrote is kept as it is for display; rules match on a *key* in which the
many ways of writing the same word coincide: compatibility forms, vowel points and cantillation,
harakat, tatweel, invisible characters, letter variants and final letters, and case.

A second key, ``folded``, also undoes the disguises of people dodging a word list: look-alike
letters from other alphabets (``ѕhit``, ``𝐟𝐮𝐜𝐤``) and leetspeak (``sh1t``, ``f@ck``) in Latin
words, and s-p-a-c-e-d letters. Homoglyph folding turns Hebrew and Arabic letters into Latin
look-alikes, and Arabizi writes letters with digits (3 = ع, 7 = ح), so both are applied only to
words without Hebrew or Arabic letters, and rules read both keys.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass

import decancer_py

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
    folded: str = ""
    """The key with look-alikes, leetspeak and spaced letters undone ("" when it equals ``key``)."""

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key, self.folded) if self.folded else (self.key,)


def _is_invisible(char: str) -> bool:
    # Cf holds zero-width (U+200B-U+200D, U+2060, U+FEFF), bidi controls (U+200E/F, U+202A-E,
    # U+2066-9, U+061C) and soft hyphens: none changes what a word says.
    return char == TATWEEL or unicodedata.category(char) == "Cf"


_DROPPED = dict.fromkeys(
    point
    for point in range(sys.maxunicode + 1)
    if unicodedata.category(chr(point)) == "Mn" or _is_invisible(chr(point))
)


def strip_marks(text: str) -> str:
    """Compatibility-normalise, then drop non-spacing marks and invisible characters.

    Removes niqqud and cantillation (Hebrew), harakat and Quranic marks (Arabic), accents (Latin),
    tatweel, zero-width and bidi control characters.
    """
    if text.isascii():
        return text  # nothing to compose, decompose or drop (the hot path for English)
    # NFKD of the NFKC form is the NFKD form: one decomposition, one table lookup per character
    kept = unicodedata.normalize("NFKD", text).translate(_DROPPED)
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


_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
# a word of Latin letters with at least one leet character among them (not a plain number)
_LEET_WORD = re.compile(
    r"(?<![\w@$])(?=[\w@$]*[a-z])(?=[\w@$]*[013457@$])[a-z013457@$]{3,}(?![\w@$])"
)
# "!" for "i" inside a Latin word (b!tch, k!ll, d!ckhead); at a word's end it is punctuation
_INNER_BANG = re.compile(r"(?<=[a-z])!+(?=[a-z013457@$])")
# single letters separated by one space, dot, dash or underscore, at least four of them
_SPACED = re.compile(r"(?<!\w)(?:\w[ ._\-*]){3,}\w(?!\w)")
_NON_LATIN_TOKEN = re.compile(r"\S*[^\x00-\x7f]\S*")
_HEBREW_OR_ARABIC = re.compile(
    r"[\u0590-\u05ff\ufb1d-\ufb4f\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"
)


def _fold_homoglyphs(token: re.Match[str]) -> str:
    word = token.group()
    if _HEBREW_OR_ARABIC.search(word):
        return word
    return str(decancer_py.parse(word))


def _join_spaced(match: re.Match[str]) -> str:
    return re.sub(r"[ ._\-*]", "", match.group())


def folded_key(key: str) -> str:
    """The key with homoglyphs and leetspeak folded in Latin words and spaced letters joined."""
    folded = _NON_LATIN_TOKEN.sub(_fold_homoglyphs, key) if not key.isascii() else key
    folded = _INNER_BANG.sub("i", folded.casefold())
    folded = _LEET_WORD.sub(lambda m: m.group().translate(_LEET), folded)
    return _SPACED.sub(_join_spaced, folded)


def normalise(text: str) -> Normalised:
    key = matching_key(text)
    folded = folded_key(key)
    return Normalised(original=text, key=key, folded="" if folded == key else folded)
