"""Which language a comment is in, told by the Unicode blocks of its letters.

Hebrew, Arabic and Latin letters never share a block, so counting them is exact for the
consultation's three languages and cheap. Latin script is reported as English; text in a Latin
script that is not English (Arabizi, transliterated Hebrew) is left to later signals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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


def detect_language(text: str) -> LanguageGuess:
    counts: dict[Script, int] = {}
    for char in text:
        if char.isalpha():
            script = script_of(char)
            counts[script] = counts.get(script, 0) + 1
    total = sum(counts.values())
    if total == 0:
        return LanguageGuess("und")
    mix: dict[Script, float] = {
        script: round(count / total, 3) for script, count in sorted(counts.items())
    }
    # the script with the most letters wins; ties go to he, then ar, then en
    best = max(_PREFERENCE, key=lambda script: counts.get(script, 0))
    language: Language = "und" if best == "other" else best
    return LanguageGuess(language, mix)
