"""Personal data in comments: found, replaced with placeholders, and listed.

What is looked for: e-mail addresses (also spelled out to dodge filters: "dana at gmail dot com",
"dana [at] gmail [dot] com", "דנה שטרודל gmail נקודה com"), phone numbers (international, and
Israeli mobile, landline and VoIP numbers in their usual spellings), Israeli ID numbers (nine
digits with a valid check digit), payment card numbers (13-19 digits, Luhn-valid), IBANs (valid
check digits) and street addresses (a street word, a name and a house number, in he/ar/en).
Digits in other scripts (Arabic-Indic, Persian, fullwidth) are read as ASCII digits first, and
invisible characters (bidi marks, which right-to-left text often carries inside numbers,
zero-width spaces) are looked through.
Everything else in the text is kept as written.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from stdnum import iban as stdnum_iban

PiiKind = Literal["email", "phone", "id-number", "card", "iban", "address"]

PLACEHOLDERS: dict[PiiKind, str] = {
    "email": "[email]",
    "phone": "[phone]",
    "id-number": "[id-number]",
    "card": "[card]",
    "iban": "[iban]",
    "address": "[address]",
}


@dataclass(frozen=True, slots=True)
class Finding:
    kind: PiiKind
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Redaction:
    text: str
    """The text with every finding replaced by its placeholder."""
    found: tuple[Finding, ...]
    """What was replaced, with its place in the original text."""

    @property
    def kinds(self) -> tuple[PiiKind, ...]:
        return tuple(dict.fromkeys(finding.kind for finding in self.found))


def to_ascii_digits(text: str) -> str:
    """Every decimal digit as its ASCII digit; one character for one, so offsets are kept."""
    return "".join(
        str(unicodedata.decimal(c)) if not c.isascii() and c.isdecimal() else c for c in text
    )


def luhn_valid(digits: str) -> bool:
    """The Luhn check of payment card numbers: from the right, double every second digit."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def israeli_id_valid(number: str) -> bool:
    """The check digit of an Israeli ID number (Teudat Zehut), padded to nine digits.

    Weights 1, 2, 1, 2, ... from the left; a two-digit product counts as the sum of its digits;
    the total must be a multiple of ten.
    """
    if not number.isdigit() or not number.isascii() or len(number) > 9:
        return False
    total = 0
    for position, char in enumerate(number.zfill(9)):
        value = int(char) * (1 + position % 2)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# contiguous, or in the groups cards are printed in (4-4-4-4[-3], Amex 4-6-5) with one separator
_CARD = re.compile(
    r"(?<!\d)(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{4,5})(?!\d)"
)
_PHONE_PATTERNS = (
    # international: +972 50-123-4567, 00972 2 123 4567, +44 20 7946 0958
    re.compile(r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(0\))?(?:[ .-]?\d){6,12}(?!\d)"),
    # Israeli mobile and VoIP (05X, 07X): 050-1234567, 0501234567, 050-123-4567, 050 123 4567
    re.compile(r"(?<!\d)0[57]\d(?:-?\d{7}|[- ]\d{3}[- ]\d{4}| \d{7})(?!\d)"),
    # Israeli landlines (02, 03, 04, 08, 09) written with a separator: 02-1234567, 03 123 4567
    re.compile(r"(?<!\d)0[23489](?:[- ]\d{7}|[- ]\d{3}[- ]\d{4})(?!\d)"),
)
_AT = r"(?:\s*[\[(<{]\s*(?:at|@)\s*[\])>}]\s*|\s+(?:at|שטרודל|ات)\s+)"
_DOT = r"(?:\s*[\[(<{]\s*(?:dot|\.)\s*[\])>}]\s*|\s+(?:dot|נקודה|نقطة)\s+)"
_SPELLED_EMAIL = re.compile(
    rf"(?<![\w.%+-])[A-Za-z0-9._%+-]+{_AT}[A-Za-z0-9-]+(?:(?:{_DOT}|\.)[A-Za-z0-9-]+)*"
    rf"(?:{_DOT}|\.)(?:com|net|org|gov|edu|co|il|io|info|me|uk|ac)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?")
# a street word, one to three words of its name, a house number (and maybe an apartment)
_ADDRESS_PATTERNS = (
    re.compile(
        r"(?<!\w)[ובלמה]{0,2}(?P<at>)(?:רחוב|רח'|רח׳|שדרות|שד'|שד׳|סמטת|דרך)\s+(?:[\u05d0-\u05ea\"'״׳-]+\s+){1,3}\d{1,4}[א-ו]?(?:\s*/\s*\d{1,4})?(?!\d)"
    ),
    re.compile(
        r"(?<!\w)[وفبل]?(?P<at>)(?:شارع|حي|طريق)\s+(?:[\u0621-\u064a]+\s+){1,3}(?:رقم\s+)?\d{1,4}(?!\d)"
    ),
    re.compile(
        r"(?<![\w-])(?P<at>)\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St\.?|Road|Rd\.?|Avenue|Ave\.?"
        r"|Boulevard|Blvd\.?|Lane|Ln\.?|Drive|Dr\.?)(?!\w)"
    ),
)
_NINE_DIGITS = re.compile(r"(?<!\d)\d{9}(?!\d)")
_PLAIN_LANDLINE = re.compile(r"0[23489]\d{7}")


def _find(text: str) -> list[Finding]:
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def add(kind: PiiKind, start: int, end: int) -> None:
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            return
        taken.append((start, end))
        found.append(Finding(kind, start, end))

    for match in _EMAIL.finditer(text):
        add("email", match.start(), match.end())
    for match in _SPELLED_EMAIL.finditer(text):
        add("email", match.start(), match.end())
    for match in _IBAN.finditer(text):
        if stdnum_iban.is_valid(match.group()):
            add("iban", match.start(), match.end())
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            add("card", match.start(), match.end())
    for pattern in _PHONE_PATTERNS:
        for match in pattern.finditer(text):
            add("phone", match.start(), match.end())
    # nine bare digits are an ID number when the check digit holds, else maybe a landline
    for match in _NINE_DIGITS.finditer(text):
        if israeli_id_valid(match.group()):
            add("id-number", match.start(), match.end())
        elif _PLAIN_LANDLINE.fullmatch(match.group()):
            add("phone", match.start(), match.end())
    for pattern in _ADDRESS_PATTERNS:
        for match in pattern.finditer(text):
            # the prefix letters glued to the street word (ברחוב, بشارع) stay in the text
            add("address", match.start("at"), match.end())
    return sorted(found, key=lambda finding: finding.start)


def _visible(text: str) -> tuple[str, list[int]]:
    """The text without invisible format characters, and where each kept character came from."""
    kept = [(i, c) for i, c in enumerate(text) if unicodedata.category(c) != "Cf"]
    return "".join(c for _, c in kept), [i for i, _ in kept]


def redact(text: str) -> Redaction:
    view, origin = _visible(text)
    found = [
        Finding(f.kind, origin[f.start], origin[f.end - 1] + 1)
        for f in _find(to_ascii_digits(view))
    ]
    parts: list[str] = []
    cursor = 0
    for finding in found:
        parts.append(text[cursor : finding.start])
        parts.append(PLACEHOLDERS[finding.kind])
        cursor = finding.end
    parts.append(text[cursor:])
    return Redaction("".join(parts), tuple(found))
