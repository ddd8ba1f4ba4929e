"""The evaluation set, decided as an ``auto`` campaign would: per language, how often civil
comments are wrongly rejected or held, and how often abusive ones are published.

Run with ``-s`` to see the report. The thresholds are the product's promise: civil criticism of
the government is never removed, and abuse rarely reaches the public unchecked.
"""

from __future__ import annotations

from collections import Counter

import pytest

from kolot.moderation.pipeline import analyse_batch, decide_analysis
from tests.unit.moderation.eval_set import ABUSIVE, ACCEPTABLE, EVAL_SET

MAX_CIVIL_WRONGLY_HELD = 0.02
MAX_ABUSIVE_PUBLISHED = 0.05


def _decisions() -> list[str]:
    analyses = analyse_batch([text for _, _, text in EVAL_SET])
    return [decide_analysis(a, mode="auto").decision for a in analyses]


DECISIONS = _decisions()


def _report() -> tuple[str, dict[str, tuple[float, float]]]:
    civil: Counter[str] = Counter()
    civil_held: Counter[str] = Counter()
    abusive: Counter[str] = Counter()
    abusive_published: Counter[str] = Counter()
    spam: Counter[str] = Counter()
    spam_published: Counter[str] = Counter()
    for (language, label, _), decision in zip(EVAL_SET, DECISIONS, strict=True):
        for group in (language, "all"):
            if label in ACCEPTABLE:
                civil[group] += 1
                civil_held[group] += decision != "approve"
            elif label in ABUSIVE:
                abusive[group] += 1
                abusive_published[group] += decision == "approve"
            else:
                spam[group] += 1
                spam_published[group] += decision == "approve"
    lines = [
        f"{'language':<9} {'civil':>5} {'held':>6} {'abusive':>7} {'published':>9} "
        f"{'spam':>4} {'published':>9}"
    ]
    rates: dict[str, tuple[float, float]] = {}
    for group in ("he", "ar", "en", "mixed", "translit", "all"):
        held = civil_held[group] / civil[group]
        published = abusive_published[group] / abusive[group]
        rates[group] = (held, published)
        lines.append(
            f"{group:<9} {civil[group]:>5} {held:>6.1%} {abusive[group]:>7} {published:>9.1%} "
            f"{spam[group]:>4} {spam_published[group] / max(spam[group], 1):>9.1%}"
        )
    return "\n".join(lines), rates


def test_the_set_is_large_and_covers_every_language_and_label() -> None:
    assert len(EVAL_SET) >= 300
    labels = Counter((language, label) for language, label, _ in EVAL_SET)
    for language in ("he", "ar", "en", "mixed", "translit"):
        for label in ("civil", "critical", "insult", "threat", "hate", "spam"):
            assert labels[(language, label)] >= 1, (language, label)


@pytest.mark.parametrize("group", ["he", "ar", "en", "mixed", "translit", "all"])
def test_civil_comments_pass_and_abuse_is_not_published(group: str) -> None:
    report, rates = _report()
    print(f"\n{report}")
    held, published = rates[group]
    assert held <= MAX_CIVIL_WRONGLY_HELD, report
    assert published <= MAX_ABUSIVE_PUBLISHED, report


def test_harsh_criticism_of_the_government_is_published_in_every_language() -> None:
    held = [
        text
        for (_, label, text), decision in zip(EVAL_SET, DECISIONS, strict=True)
        if label == "critical" and decision != "approve"
    ]
    assert held == []


def test_threats_and_hate_are_never_published_automatically() -> None:
    published = [
        text
        for (_, label, text), decision in zip(EVAL_SET, DECISIONS, strict=True)
        if label in ("threat", "hate") and decision == "approve"
    ]
    assert published == []
