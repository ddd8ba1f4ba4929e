"""Which language a comment is in, told by the Unicode blocks of its letters.

Hebrew, Arabic and Latin letters never share a block, so counting them is exact for the
consultation's three languages and cheap. Latin-script text is then read by a detector
(lingua, its models inside the wheel) among English and the Latin-script languages people here
also write; and Latin-script text that is Arabic or Hebrew written in Latin letters (Arabizi:
"ana mish fahem", "inta 7mar"; transliterated Hebrew: "ata lo mevin") is flagged as such, by its
function words and by Arabizi's digit-letters, and reported as Arabic or Hebrew.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from lingua import Language as LinguaLanguage
from lingua import LanguageDetector, LanguageDetectorBuilder

Language = Literal["he", "ar", "en", "und"]
Script = Literal["he", "ar", "en", "other"]

_RANGES: tuple[tuple[int, int, Script], ...] = (
    (0x0590, 0x05FF, "he"),
    (0xFB1D, 0xFB4F, "he"),  # Hebrew presentation forms
    (0x0600, 0x06FF, "ar"),
    (0x0750, 0x077F, "ar"),  # Arabic supplement
    (0x08A0, 0x08FF, "ar"),  # Arabic extended-A
    (0xFB50, 0xFDFF, "ar"),  # Arabic presentation forms A
    (0xFE70, 0xFEFF, "ar"),  # Arabic presentation forms B
    (0x0041, 0x005A, "en"),
    (0x0061, 0x007A, "en"),
    (0x00C0, 0x024F, "en"),  # Latin-1 supplement and Latin extended A/B
    (0x1E00, 0x1EFF, "en"),  # Latin extended additional
    (0xFF21, 0xFF3A, "en"),  # fullwidth Latin
    (0xFF41, 0xFF5A, "en"),
)


_PREFERENCE: tuple[Script, ...] = ("he", "ar", "en", "other")


def script_of(char: str) -> Script:
    point = ord(char)
    for low, high, script in _RANGES:
        if low <= point <= high:
            return script
    return "other"


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    language: Language
    mix: dict[Script, float] = field(default_factory=dict)
    """Share of the letters in each script (only scripts present), e.g. {"he": 0.8, "en": 0.2}."""
    transliterated: bool = False
    """Arabic or Hebrew written in Latin letters."""
    latin_other: bool = False
    """Latin-script text in a language other than English (French, Russian in Latin letters...)."""


# Function words of Arabizi and of Hebrew in Latin letters that are not English words.
_ARABIZI_WORDS = (
    "ana inta enta inti enti ento intu howa hiya hya ehna e7na mish mesh msh mush mafi "
    "fi feh fih leh lesh laish wallah wallahi yalla yalah habibi habibti shu shou sho esh ish "
    "kaman kman bas bs bidi biddi 3ashan 3shan la2 la2an 3am 3al 3ala ya kteer kter ktir "
    "hada hayda hadi hek heik kif keef kaif ma3 m3 akid tayeb tab inshallah mashallah "
    "7aram 7elo 7ilo 5alas khalas ma3ak ma3ek shukran"
)
_HEBREW_LATIN_WORDS = (
    "ani ata at anachnu atem hem hu hi lo ken ze zot zeh eize eizeh ma mah lama ech eich "
    "yesh ein efshar beseder sababa achla tov ra stam mamash kol kama gam aval rak od "
    "shel im bli hayom machar etmol toda bevakasha slicha achi yalla walla nu "
    "mevin mevina rotze rotza tzarich hamemshala memshala"
)
_ENGLISH_WORDS = "a i at is in on me he hi ma no so to we ya"
_ARABIZI = frozenset(_ARABIZI_WORDS.split())
_HEBREW_LATIN = frozenset(_HEBREW_LATIN_WORDS.split())
_ENGLISH_ALSO = frozenset(_ENGLISH_WORDS.split())
_ARABIZI_DIGIT = re.compile(r"(?<![\d])[a-z]*[2357][a-z]+|[a-z]+[2357](?![\d])")
_LATIN_WORD = re.compile(r"[a-z0-9']+")


@cache
def _detector() -> LanguageDetector:
    # English and the Latin-script languages immigrants here write most (Russian only in
    # Cyrillic: its letters count as "other"). Low-accuracy mode (trigrams) loads at once, where
    # the full models take seconds on the first batch; it only sees texts of 20+ characters,
    # and a miss only changes the language of the statement of reasons.
    return (
        LanguageDetectorBuilder.from_languages(
            LinguaLanguage.ENGLISH,
            LinguaLanguage.FRENCH,
            LinguaLanguage.SPANISH,
            LinguaLanguage.GERMAN,
            LinguaLanguage.PORTUGUESE,
            LinguaLanguage.ITALIAN,
        )
        .with_low_accuracy_mode()
        .build()
    )


def transliteration(text: str) -> Language | None:
    """ "ar" or "he" when Latin-script text reads as Arabizi or Hebrew in Latin letters."""
    words = _LATIN_WORD.findall(text.casefold())
    if not words:
        return None
    arabizi = sum(1 for w in words if w in _ARABIZI and w not in _ENGLISH_ALSO)
    arabizi += sum(1 for w in words if _ARABIZI_DIGIT.fullmatch(w))
    hebrew = sum(1 for w in words if w in _HEBREW_LATIN and w not in _ENGLISH_ALSO)
    needed = 1 if len(words) <= 4 else 2
    if max(arabizi, hebrew) < needed:
        return None
    return "ar" if arabizi >= hebrew else "he"


def latin_languages(texts: list[str]) -> list[bool]:
    """For each Latin-script text, whether it reads as a language other than English (batched)."""
    if not texts:
        return []
    found = _detector().detect_languages_in_parallel_of(texts)
    return [language not in (None, LinguaLanguage.ENGLISH) for language in found]


def _letters(script: Script) -> re.Pattern[str]:
    ranges = "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high, s in _RANGES if s == script)
    return re.compile(f"[{ranges}]")


_LETTERS: dict[Script, re.Pattern[str]] = {s: _letters(s) for s in ("he", "ar", "en")}
_ALPHA = re.compile(r"[^\W\d_]")


def detect_language(text: str) -> LanguageGuess:
    # one regular expression per script: a Python loop over characters is the slow way
    counts: dict[Script, int] = {}
    letters = len(_ALPHA.findall(text))
    for script, pattern in _LETTERS.items():
        found = len(pattern.findall(text))
        if found:
            counts[script] = found
    other = letters - sum(counts.values())
    if other > 0:
        counts["other"] = other
    total = sum(counts.values())
    if total == 0:
        return LanguageGuess("und")
    mix: dict[Script, float] = {
        script: round(count / total, 3) for script, count in sorted(counts.items())
    }
    # the script with the most letters wins; ties go to he, then ar, then en
    best = max(_PREFERENCE, key=lambda script: counts.get(script, 0))
    language: Language = "und" if best == "other" else best
    if language == "en":
        spoken = transliteration(text)
        if spoken is not None:
            return LanguageGuess(spoken, mix, transliterated=True)
    return LanguageGuess(language, mix)
