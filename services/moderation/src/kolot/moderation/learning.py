"""A secondary classifier that learns from moderators' decisions, one model per language.

As Decidim's spam module does, but per language and for everything moderators reject: every
person's decision (a moderator's, or an appeal's) is kept as a labelled example (the comment's
redacted matching key, and whether it was rejected), and a naive Bayes model over character
n-grams is retrained from them. Character n-grams need no tokeniser, which Hebrew and Arabic
words with their glued prefixes would otherwise need.

Its score only ever sends a comment to a person (see ``decide``): it never rejects on its own,
so a model trained on few or biased decisions cannot silence anyone. A language's model is used
once it has ``MIN_EXAMPLES`` examples of each label. Scoring is batched: one call per language
per batch of comments.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sklearn.feature_extraction.text import HashingVectorizer  # type: ignore[import-untyped]
from sklearn.naive_bayes import MultinomialNB  # type: ignore[import-untyped]

from kolot.common.store import Document

MIN_EXAMPLES = 20
"""Of each label, before a language's model is trusted."""
REFRESH_SECONDS = 60.0
"""How often a replica looks for decisions taken elsewhere."""
RETRAIN_SECONDS = 5.0
"""How soon after a decision taken here the models are retrained."""


@dataclass(frozen=True, slots=True)
class Example:
    language: str
    key: str
    rejected: bool


class ExampleStore(Protocol):
    async def examples(self) -> list[Example]: ...
    async def examples_version(self) -> str:
        """Changes whenever an example is added or relabelled."""
        ...


def _vectorizer() -> HashingVectorizer:
    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 4),
        n_features=2**18,
        alternate_sign=False,
        norm="l2",
    )


class ModeratorModels:
    """The per-language models, trained from examples (pure: no I/O)."""

    def __init__(self) -> None:
        self._vectorizer = _vectorizer()
        self._models: dict[str, MultinomialNB] = {}

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._models)

    def fit(self, examples: Sequence[Example]) -> None:
        by_language: dict[str, list[Example]] = {}
        for example in examples:
            by_language.setdefault(example.language, []).append(example)
        models: dict[str, MultinomialNB] = {}
        for language, mine in by_language.items():
            rejected = sum(e.rejected for e in mine)
            if min(rejected, len(mine) - rejected) < MIN_EXAMPLES:
                continue
            model = MultinomialNB(alpha=0.1)
            model.fit(self._vectorizer.transform([e.key for e in mine]), [e.rejected for e in mine])
            models[language] = model
        self._models = models

    def score(self, items: Sequence[tuple[str, str]]) -> list[float | None]:
        """For each (language, key): the probability a moderator would reject it (None: no
        model for that language yet). One call per language."""
        scores: list[float | None] = [None] * len(items)
        by_language: dict[str, list[int]] = {}
        for index, (language, _) in enumerate(items):
            if language in self._models:
                by_language.setdefault(language, []).append(index)
        for language, indexes in by_language.items():
            model = self._models[language]
            matrix = self._vectorizer.transform([items[i][1] for i in indexes])
            column = list(model.classes_).index(True)
            for index, row in zip(indexes, model.predict_proba(matrix), strict=True):
                scores[index] = float(row[column])
        return scores


class Learner:
    """Keeps the models up to date with the decisions in the store (retrained off the loop)."""

    def __init__(self, store: ExampleStore, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._clock = clock
        self.models = ModeratorModels()
        self._trained_on: str | None = None
        self._checked = float("-inf")
        self._lock = asyncio.Lock()

    def stale(self) -> None:
        """A decision was just recorded here: look again soon (at most every ``RETRAIN_SECONDS``,
        so a run of bulk decisions retrains once, not once per batch)."""
        self._checked = min(self._checked, self._clock() - REFRESH_SECONDS + RETRAIN_SECONDS)

    async def refresh(self) -> None:
        if self._clock() - self._checked < REFRESH_SECONDS:
            return
        async with self._lock:
            self._checked = self._clock()
            version = await self._store.examples_version()
            if version == self._trained_on:
                return
            examples = await self._store.examples()
            models = ModeratorModels()
            await asyncio.to_thread(models.fit, examples)
            self.models, self._trained_on = models, version


def example_document(comment_id: str, example: Example, *, at: str) -> Document:
    return {
        "_id": comment_id,
        "language": example.language,
        "key": example.key,
        "rejected": example.rejected,
        "at": at,
    }
