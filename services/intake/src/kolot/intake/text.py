"""Cleaning text at the edge: what every contribution goes through before it is published.

NFC normalisation (so one word has one byte sequence), removal of control characters and of the
bidi overrides/isolates that can make Hebrew or Arabic text display as something else than it is
(the "Trojan Source" trick), and trimming. Ordinary newlines and tabs stay; ZWJ/ZWNJ stay too,
because Arabic and Persian spelling uses them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_CONTROL = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f" + _BIDI_CONTROLS + "\ufeff\ufff9-\ufffb]"
)
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
