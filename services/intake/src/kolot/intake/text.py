"""Cleaning text at the edge: what every contribution goes through before it is published.

NFC normalisation (so one word has one byte sequence), removal of control characters and of the
bidi overrides/isolates that can make Hebrew or Arabic text display as something else than it is
(the "Trojan Source" trick), of invisible characters that can hide inside a word or hold hidden
text (zero-width space, word joiner, soft hyphen, invisible operators, Unicode tag characters,
Hangul fillers), and trimming. Ordinary newlines and tabs stay; ZWJ/ZWNJ stay too, because Arabic
and Persian spelling uses them (and emoji sequences).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
# invisible: zero-width space, soft hyphen, Mongolian vowel separator, word joiner and invisible
# operators, deprecated format controls, Hangul fillers (blank "letters"), tag characters (which
# can carry a hidden ASCII message), and unpaired surrogates (which cannot be stored as UTF-8)
_INVISIBLE = (
    "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u2060-\u2064\u206a-\u206f"
    "\u3164\uffa0\U000e0000-\U000e007f\ud800-\udfff"
)
_CONTROL = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
    + _BIDI_CONTROLS
    + _INVISIBLE
    + "\ufeff\ufff9-\ufffb]"
)
# line and paragraph separators are line breaks that some renderers do not show as such
_LINE_SEPARATORS = str.maketrans({"\u2028": "\n", "\u2029": "\n", "\u0085": "\n"})
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_SEPARATORS)
    # controls go before NFC: a lone surrogate cannot be normalised, and a removed invisible
    # may have separated a letter from a mark that composes with it
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text))
    text = "\n".join(line.strip() for line in _SPACES.sub(" ", text).split("\n"))
    # after the lines are trimmed, so that lines of spaces count as blank (and a second
    # cleaning changes nothing)
    return _BLANK_LINES.sub("\n\n", text).strip()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
