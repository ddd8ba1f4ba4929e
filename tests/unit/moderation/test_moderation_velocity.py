"""Velocity counted in memory: a sender's comments in the window, redeliveries counted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kolot.moderation.velocity import Velocity

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def test_a_senders_comments_in_the_window_are_counted_across_batches() -> None:
    velocity = Velocity(WINDOW)
    assert velocity.observe([("c1", "p1", T0), ("c2", "p1", T0), ("c3", "p2", T0)]) == {
        "p1": 2,
        "p2": 1,
    }
    assert velocity.observe([("c4", "p1", T0 + timedelta(minutes=1))]) == {"p1": 3}


def test_a_redelivered_comment_is_not_counted_twice() -> None:
    velocity = Velocity(WINDOW)
    velocity.observe([("c1", "p1", T0), ("c2", "p1", T0)])
    assert velocity.observe([("c1", "p1", T0), ("c2", "p1", T0)]) == {"p1": 2}


def test_comments_older_than_the_window_no_longer_count() -> None:
    velocity = Velocity(WINDOW)
    velocity.observe([(f"c{i}", "p1", T0) for i in range(10)])
    assert velocity.observe([("late", "p1", T0 + WINDOW + timedelta(seconds=1))]) == {"p1": 1}


def test_memory_is_bounded_by_forgetting_the_least_recently_active_senders() -> None:
    velocity = Velocity(WINDOW, max_senders=3)
    velocity.observe([(f"c{i}", f"p{i}", T0) for i in range(3)])
    velocity.observe([("again", "p0", T0)])  # p0 active again: p1 is now the oldest
    velocity.observe([("new", "p9", T0)])
    assert velocity.observe([("x", "p1", T0)]) == {"p1": 1}  # forgotten, counted afresh
    assert velocity.observe([("y", "p0", T0)]) == {"p0": 3}


def test_a_sender_idle_for_two_windows_is_forgotten() -> None:
    velocity = Velocity(WINDOW)
    velocity.observe([("c1", "quiet", T0), ("c2", "busy", T0)])
    velocity.observe([("c3", "busy", T0 + 2 * WINDOW)])
    assert len(velocity) == 2  # "quiet" could still count for a comment delivered a window late
    velocity.observe([("c4", "busy", T0 + 2 * WINDOW + timedelta(seconds=1))])
    assert len(velocity) == 1
    assert velocity.observe([("c5", "quiet", T0 + 3 * WINDOW)]) == {"quiet": 1}


def test_a_comment_delivered_late_is_counted_with_its_own_window() -> None:
    velocity = Velocity(WINDOW)
    velocity.observe([("c1", "p1", T0), ("c2", "p1", T0 + timedelta(minutes=1))])
    velocity.observe([("other", "p2", T0 + timedelta(minutes=8))])
    # Delivered seven minutes late: what p1 sent five minutes before it still counts.
    assert velocity.observe([("c0", "p1", T0 - timedelta(minutes=1))]) == {"p1": 3}
