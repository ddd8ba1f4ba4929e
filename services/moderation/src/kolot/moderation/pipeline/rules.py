"""The first rule set: lexicons of insults and slurs, and threat patterns, per language.

Rules read the matching key (see ``normalise``), never the displayed text. Words match whole
tokens, after stripping the prefix letters Hebrew and Arabic attach to words, so "Kill the
project" or "this policy kills small businesses" pass while "I will kill you" does not: verbs
that are ordinary in civil text are only caught by threat patterns with a person as their object.
Every language's rules run on every comment, since comments mix languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kolot.moderation.pipeline.language import script_of
from kolot.moderation.pipeline.lexicons import Category, Lexicon, LexiconLanguage, all_lexicons
from kolot.moderation.pipeline.normalise import fold_letters, matching_key, strip_marks

_SCRIPT_LETTERS = {
    "he": re.compile("[\u0590-\u05ff]"),
    "ar": re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]"),
    "en": re.compile("[a-z]"),
}
"""Letters of each script in a matching key (casefolded, compatibility forms gone)."""

# Most severe first: reasons are reported in this order.
CATEGORIES: tuple[Category, ...] = ("threat", "hate", "abuse", "spam")
MILD = 0.6
"""The severity of a mild insult: enough to ask a person, not to reject."""

_HEBREW_PREFIXES = frozenset("והבלמשכ")
_ARABIC_CONJUNCTIONS = ("", "و", "ف")
_ARABIC_PREPOSITIONS = ("", "ب", "ل", "ك")
_TOKEN = re.compile(r"\w+")
# Hebrew spelled with niqqud drops the vowel letters (מְטֻמְטָם for מטומטם); a skeleton without
# ו and י matches both, but only for long words, where it cannot turn one word into another.
_SKELETON_MIN = 4


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: str
    """Which rule matched, e.g. ``lexicon.he.abuse`` or ``threat.ar``."""
    category: Category
    language: LexiconLanguage
    match: str
    """The matched part of the matching key, for moderators (never shown to the author)."""
    severity: float = 1.0
    """1.0: certain; below: a person should look (see ``MILD``)."""


def _skeleton(word: str) -> str:
    return word.replace("ו", "").replace("י", "")


def _hebrew_stems(token: str) -> set[str]:
    stems = {token}
    rest = token
    # up to three prefix letters (וכשה...), leaving a stem of three letters or more
    for _ in range(3):
        if len(rest) > 3 and rest[0] in _HEBREW_PREFIXES:
            rest = rest[1:]
            stems.add(rest)
        else:
            break
    return stems


def _arabic_stems(token: str) -> set[str]:
    stems = {token}
    for conjunction in _ARABIC_CONJUNCTIONS:
        if not token.startswith(conjunction):
            continue
        after_conjunction = token[len(conjunction) :]
        # لل: the preposition li- before the article, whose alef is not written (لليهود)
        if after_conjunction.startswith("لل") and len(after_conjunction) >= 5:
            stems.add(after_conjunction[2:])
        for preposition in _ARABIC_PREPOSITIONS:
            if not after_conjunction.startswith(preposition):
                continue
            stem = after_conjunction[len(preposition) :]
            if stem.startswith("ال") and len(stem) >= 5:
                stems.add(stem[2:])
            # a single stripped letter must leave four: فخرا (proudly) is not ف + خرا
            if stem != token and len(stem) >= 4:
                stems.add(stem)
    return stems


MASKS = frozenset("*#%?")
"""Characters people type for the letters of a word they will not spell out (f*ck, sh#t)."""
# a Latin word with at least one mask among its letters: f*ck, f**king, a**hole, sh#t
_MASKED = re.compile(r"(?<![\w*#%?])[a-z][a-z*#%?]*[*#%?][a-z*#%?]*(?![\w*#%?])")


def _lexicon_form(word: str) -> str:
    """How a lexicon word is looked up: its skeleton when that is long enough to be safe."""
    if word and script_of(word[0]) == "he":
        skeleton = _skeleton(word)
        if len(skeleton) >= _SKELETON_MIN:
            return skeleton
    return word


def _token_forms(token: str, protected: frozenset[str]) -> frozenset[str]:
    """Every form under which a token of the text can meet a lexicon word."""
    script = script_of(token[0])
    if token in protected:
        return frozenset({token})
    if script == "he":
        stems = _hebrew_stems(token)
        skeletons = {s for s in map(_skeleton, stems) if len(s) >= _SKELETON_MIN}
        return frozenset(stems | skeletons)
    if script == "ar":
        return frozenset(_arabic_stems(token))
    return frozenset({token})


@dataclass(frozen=True, slots=True)
class _Phrase:
    words: tuple[str, ...]
    category: Category
    language: LexiconLanguage
    severity: float = 1.0


@dataclass(frozen=True, slots=True)
class _Pattern:
    pattern: re.Pattern[str]
    category: Category
    language: LexiconLanguage
    severity: float = 1.0


class RuleSet:
    """Compiled lexicons and threat patterns; ``check`` is pure and safe to share."""

    def __init__(self, lexicons: Iterable[Lexicon]) -> None:
        self._phrases: dict[str, list[_Phrase]] = {}
        self._maskable: dict[int, set[str]] = {}
        """Latin lexicon entries of one word, by length: what a masked word (f**k) may stand
        for (a word of a phrase, "shut" of "shut up", is no insult on its own)."""
        self._patterns: list[_Pattern] = []
        self._by_script: dict[str, list[_Pattern]] = {}
        protected: set[str] = set()
        for lexicon in lexicons:
            protected.update(matching_key(word) for word in lexicon.protected)
            entries_by: list[tuple[Category, float, tuple[str, ...]]] = [
                (category, 1.0, entries) for category, entries in lexicon.words.items()
            ]
            entries_by.append(("abuse", MILD, lexicon.mild))
            for category, severity, entries in entries_by:
                for entry in entries:
                    words = tuple(_lexicon_form(w) for w in _TOKEN.findall(matching_key(entry)))
                    if words:
                        phrase = _Phrase(words, category, lexicon.language, severity)
                        self._phrases.setdefault(words[0], []).append(phrase)
                    if len(words) == 1 and words[0].isascii() and words[0].isalpha():
                        self._maskable.setdefault(len(words[0]), set()).add(words[0])
            sources: list[tuple[Category, float, tuple[str, ...]]] = [
                ("threat", 1.0, lexicon.threats),
                ("hate", 1.0, lexicon.hate_patterns),
                ("spam", 1.0, lexicon.spam),
                ("threat", MILD, lexicon.possible_threats),
            ]
            for category, severity, patterns in sources:
                for source in patterns:
                    # fold the pattern's letters the way keys are folded (ך -> כ, أ -> ا, ة -> ه)
                    folded = fold_letters(strip_marks(source))
                    pattern = _Pattern(re.compile(folded), category, lexicon.language, severity)
                    self._patterns.append(pattern)
                    # a pattern runs only on keys that have letters of its script
                    scripts = {script_of(c) for c in folded if c.isalpha() and not c.isascii()}
                    script = "he" if "he" in scripts else "ar" if "ar" in scripts else "en"
                    self._by_script.setdefault(script, []).append(pattern)
        self._protected = frozenset(protected)

    def check(self, *keys: str) -> tuple[RuleHit, ...]:
        """Every rule any of the keys breaks (a text's plain and folded keys), most severe first."""
        hits: dict[tuple[str, str], RuleHit] = {}
        for key in keys:
            self._check(key, hits)
            if not MASKS.isdisjoint(key):
                unmasked = _MASKED.sub(self._unmask, key)
                if unmasked != key:
                    # the hits name the text as written (f**k), which the unmasked key spells
                    # out letter for letter: spans are the same in both
                    self._check(unmasked, hits, shown=key)
        certain = [h for h in hits.values() if h.severity >= 1.0]
        # a possible threat inside a certain one ("kill you" in "I will kill you") adds nothing
        for index, hit in list(hits.items()):
            if hit.severity < 1.0 and any(
                c.category == hit.category and hit.match in c.match for c in certain
            ):
                del hits[index]
        return tuple(
            sorted(hits.values(), key=lambda hit: (CATEGORIES.index(hit.category), -hit.severity))
        )

    def _unmask(self, word: re.Match[str]) -> str:
        """The one lexicon word a masked word can stand for (``f**k``), or the word as it is.

        At least two letters must show, and as many letters as masks: ``f***`` could be
        anything. A mask stands for exactly one letter, and only a single candidate counts.
        """
        masked = word.group()
        letters = sum(char.isalpha() for char in masked)
        if letters < 2 or letters * 2 < len(masked):
            return masked
        fits = {
            candidate
            for candidate in self._maskable.get(len(masked), ())
            if all(a == b or a in MASKS for a, b in zip(masked, candidate, strict=True))
        }
        return fits.pop() if len(fits) == 1 else masked

    def _check(
        self, key: str, hits: dict[tuple[str, str], RuleHit], *, shown: str | None = None
    ) -> None:
        shown = shown or key
        present = [
            pattern
            for script, letters in _SCRIPT_LETTERS.items()
            if letters.search(key)
            for pattern in self._by_script.get(script, ())
        ]
        for rule_pattern in present:
            for match in rule_pattern.pattern.finditer(key):
                rule = f"{rule_pattern.category}.{rule_pattern.language}"
                hit = RuleHit(
                    rule,
                    rule_pattern.category,
                    rule_pattern.language,
                    shown[match.start() : match.end()],
                    rule_pattern.severity,
                )
                known = hits.get((rule, hit.match))
                if known is None or known.severity < hit.severity:
                    hits[(rule, hit.match)] = hit
        tokens = list(_TOKEN.finditer(key))
        forms = [_token_forms(token.group(), self._protected) for token in tokens]
        for index, token_forms in enumerate(forms):
            for form in token_forms:
                for phrase in self._phrases.get(form, ()):
                    if self._matches(phrase, forms, index):
                        last = tokens[index + len(phrase.words) - 1]
                        text = shown[tokens[index].start() : last.end()]
                        rule = f"lexicon.{phrase.language}.{phrase.category}"
                        hit = RuleHit(rule, phrase.category, phrase.language, text, phrase.severity)
                        known = hits.get((rule, text))
                        if known is None or known.severity < hit.severity:
                            hits[(rule, text)] = hit

    @staticmethod
    def _matches(phrase: _Phrase, forms: Sequence[frozenset[str]], start: int) -> bool:
        if start + len(phrase.words) > len(forms):
            return False
        return all(word in forms[start + offset] for offset, word in enumerate(phrase.words))


DEFAULT_RULES = RuleSet(all_lexicons())


def check_rules(*keys: str, rules: RuleSet = DEFAULT_RULES) -> tuple[RuleHit, ...]:
    """Every rule the matching keys break, most severe first (empty: nothing found)."""
    return rules.check(*keys)
