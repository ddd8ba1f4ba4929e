"""Group commit: concurrent submissions share one write, each caller gets its own result."""

from __future__ import annotations

import asyncio

import pytest

from kolot.notify.batching import GroupCommit


async def test_concurrent_submissions_are_written_together() -> None:
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        batches.append(items)
        return [item * 10 for item in items]

    group = GroupCommit(flush, delay=0.01)
    results = await asyncio.gather(*(group.submit(i) for i in range(5)))
    assert results == [0, 10, 20, 30, 40]
    assert batches == [[0, 1, 2, 3, 4]]


async def test_a_full_batch_is_written_at_once() -> None:
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        batches.append(items)
        return items

    group = GroupCommit(flush, delay=60, max_items=3)
    assert await asyncio.wait_for(asyncio.gather(*(group.submit(i) for i in range(3))), 1) == [
        0,
        1,
        2,
    ]
    assert batches == [[0, 1, 2]]


async def test_a_failed_write_fails_every_caller_of_the_batch() -> None:
    async def flush(items: list[int]) -> list[int]:
        raise ConnectionError("store away")

    group = GroupCommit(flush, delay=0.001)
    outcomes = await asyncio.gather(group.submit(1), group.submit(2), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    with pytest.raises(ConnectionError):
        await group.submit(3)
