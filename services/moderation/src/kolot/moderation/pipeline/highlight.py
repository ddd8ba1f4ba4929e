"""What a moderator sees highlighted in a comment: the rule matches and the redacted personal data,
as character spans of the text shown (the redacted text), never of a key or of the raw text.

Rules match on a matching key (see ``normalise``), which drops marks and invisible characters,
folds letters and collapses spaces, so a match cannot be looked up in the displayed text as it
is. The key is therefore built again here one character at a time, remembering which displayed
character each key character came from; each match is found in that key (or, for matches of the
folded key, in a per-character folding of it that lets s-p-a-c-e-d letters through) and mapped
back. Rules run again on the redacted text, so what is highlighted is what the moderator reads:
the raw text is not kept, and a match inside personal data was redacted with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import decancer_py

from kolot.moderation.pipeline.normalise import fold_letters, normalise, strip_marks
from kolot.moderation.pipeline.redact import PLACEHOLDERS
from kolot.moderation.pipeline.rules import DEFAULT_RULES, RuleSet, check_rules

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_HEBREW_OR_ARABIC = re.compile(r"[\u0590-\u05ff\ufb1d-\ufb4f\u0600-\u06ff\u0750-\u077f]")
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
_KIND_OF = {placeholder: kind for kind, placeholder in PLACEHOLDERS.items()}


@dataclass(frozen=True, slots=True)
class MatchSpan:
    start: int
    end: int
    """``text[start:end]`` of the displayed text (Python string indices, code points)."""
    category: str
    rule: str
    severity: float


@dataclass(frozen=True, slots=True)
class RedactedSpan:
    start: int
    end: int
    kind: str
    """email, phone, id-number, card, iban, address: the placeholder that replaced it."""


@dataclass(frozen=True, slots=True)
class Highlights:
    normalised: str
    """The text as rules read it (the folded key when folding changed anything)."""
    matches: tuple[MatchSpan, ...]
    """Sorted, never overlapping one another or a redaction."""
    redacted: tuple[RedactedSpan, ...]


def _keyed(text: str) -> tuple[str, list[int]]:
    """The matching key of ``text`` built per character, and each key character's origin."""
    chars: list[str] = []
    origin: list[int] = []
    after_space = True
    for index, char in enumerate(text):
        # ASCII needs no decomposition: only case and spaces (most of an English text)
        key = char.lower() if char.isascii() else fold_letters(strip_marks(char)).casefold()
        for piece in key:
            if piece.isspace():
                if after_space:
                    continue
                piece = " "
            after_space = piece == " "
            chars.append(piece)
            origin.append(index)
    while chars and chars[-1] == " ":
        chars.pop()
        origin.pop()
    return "".join(chars), origin


def _folded_chars(key: str, origin: list[int]) -> tuple[str, list[int]]:
    """Look-alike letters and leetspeak undone one character at a time (Latin words only)."""
    chars: list[str] = []
    kept: list[int] = []
    for char, index in zip(key, origin, strict=True):
        folded = char
        if not char.isascii() and not _HEBREW_OR_ARABIC.match(char):
            folded = str(decancer_py.parse(char)) or char
        for piece in folded.casefold().translate(_LEET):
            chars.append(piece)
            kept.append(index)
    return "".join(chars), kept


def _find(match: str, haystack: str, *, spaced: bool) -> list[tuple[int, int]]:
    if spaced:
        # letters the folded key joined ("s h i t", "f.u.c.k") may have separators between them
        pattern = r"[ ._\-*]?".join(re.escape(c) for c in match if not c.isspace())
    else:
        pattern = re.escape(match)
    found = [m.span() for m in re.finditer(rf"(?<!\w){pattern}(?!\w)", haystack)]
    return found or [m.span() for m in re.finditer(pattern, haystack)]


@lru_cache(maxsize=8192)
def highlight(text: str, *, rules: RuleSet = DEFAULT_RULES) -> Highlights:
    """The spans of ``text`` (a comment's redacted text) a moderator should look at.

    Remembered: moderators' consoles ask for the same waiting comments every few seconds, and
    running the rules again costs a millisecond or more per comment.
    """
    redacted = tuple(
        RedactedSpan(m.start(), m.end(), _KIND_OF[m.group()]) for m in _PLACEHOLDER.finditer(text)
    )
    normalised = normalise(text)
    hits = check_rules(*normalised.keys, rules=rules)
    key, origin = _keyed(text) if hits else (text, [])
    folded: tuple[str, list[int]] | None = None
    candidates: list[MatchSpan] = []
    for hit in hits:
        spans = [(origin, s) for s in _find(hit.match, key, spaced=False)]
        if not spans:
            # only a disguised word needs the (slower) per-character folding
            folded = folded or _folded_chars(key, origin)
            spans = [(folded[1], s) for s in _find(hit.match, folded[0], spaced=True)]
        for where, (start, end) in spans:
            if end > start:
                first, last = where[start], where[end - 1] + 1
                candidates.append(MatchSpan(first, last, hit.category, hit.rule, hit.severity))
    # the most severe, then the longest, wins where matches overlap
    candidates.sort(key=lambda s: (-s.severity, -(s.end - s.start), s.start))
    taken: list[tuple[int, int]] = [(r.start, r.end) for r in redacted]
    matches: list[MatchSpan] = []
    for span in candidates:
        if all(span.end <= start or span.start >= end for start, end in taken):
            matches.append(span)
            taken.append((span.start, span.end))
    return Highlights(
        normalised=normalised.folded or normalised.key,
        matches=tuple(sorted(matches, key=lambda s: s.start)),
        redacted=redacted,
    )
