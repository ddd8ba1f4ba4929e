"""The classifier moderators train: per language, batched, only ever a reason to ask a person."""

from __future__ import annotations

import hashlib

from kolot.common.events import CommentSubmitted, CommentSubmittedData
from kolot.moderation.learning import MIN_EXAMPLES, Example, ModeratorModels
from kolot.moderation.service import ModerationService
from tests.unit.moderation.test_moderation_service import T0, MemoryStore, Recorder, policy

# what this campaign's moderators keep rejecting: promotion of one shop, in Hebrew
PROMOTION = [f"המבצע של חנות השכונה {i} הכי זול בעיר תבואו היום" for i in range(MIN_EXAMPLES)]
CIVIL = [f"הצעה מספר {i}: להוסיף ספסלים וצל בגינה הציבורית ליד בית הספר" for i in range(30)]


def test_a_language_needs_enough_examples_of_each_label() -> None:
    models = ModeratorModels()
    models.fit([Example("he", text, True) for text in PROMOTION[:5]])
    assert models.languages == frozenset()
    assert models.score([("he", "anything")]) == [None]


def test_scores_follow_the_moderators_per_language_in_one_batch() -> None:
    models = ModeratorModels()
    models.fit(
        [Example("he", text, True) for text in PROMOTION]
        + [Example("he", text, False) for text in CIVIL]
    )
    assert models.languages == frozenset({"he"})
    promo, civil, english = models.score(
        [
            ("he", "המבצע של חנות השכונה הכי זול בעיר"),
            ("he", "להוסיף ספסלים בגינה ליד בית הספר"),
            ("en", "the shop promotion"),
        ]
    )
    assert promo is not None
    assert promo > 0.8
    assert civil is not None
    assert civil < 0.2
    assert english is None  # no English model: no opinion


def submitted(comment_id: str, text: str, *, campaign: str) -> CommentSubmitted:
    return CommentSubmitted(
        subject=campaign,
        time=T0,
        data=CommentSubmittedData(
            comment_id=comment_id,
            participant_id=f"p-{comment_id}",
            text=text,
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        ),
    )


async def test_moderators_decisions_send_similar_comments_to_people() -> None:
    store, bus = MemoryStore(), Recorder()
    ticks = [0.0]
    service = ModerationService(store, bus, clock=lambda: T0, monotonic=lambda: ticks[0])
    store.campaigns["pre"] = policy("pre", "pre")
    await service.moderate(
        [submitted(f"r{i}", text, campaign="pre") for i, text in enumerate(PROMOTION)]
        + [submitted(f"a{i}", text, campaign="pre") for i, text in enumerate(CIVIL)]
    )
    for i in range(len(PROMOTION)):
        await service.decide_by_moderator(
            f"r{i}", decision="reject", reason="advertising", moderator="m"
        )
    for i in range(len(CIVIL)):
        await service.decide_by_moderator(f"a{i}", decision="approve", reason="ok", moderator="m")

    ticks[0] += 6  # retrained a few seconds after the decisions (once for the whole run)
    await service.moderate(
        [
            submitted("new-promo", "המבצע של חנות השכונה הכי זול בעיר, תבואו", campaign="auto"),
            submitted("new-civil", "כדאי להוסיף ספסלים וצל בגינה הציבורית", campaign="auto"),
        ]
    )
    promo, civil = store.comments["new-promo"], store.comments["new-civil"]
    assert (promo.status, promo.reasons) == ("pending", [])  # no category: people decide
    assert promo.scores["learned"] >= 0.8
    assert civil.status == "approved"
