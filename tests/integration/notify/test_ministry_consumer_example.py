"""examples/ministry_consumer.py runs: against a real NATS it consumes KOLOT_PUBLIC through its
own durable consumer, handles each event once, and continues where it acked after a restart."""

from __future__ import annotations

import argparse
import importlib.util
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from kolot.common.events import CommentPublished, CommentPublishedData, new_id
from kolot.common.runtime import Runtime
from kolot.common.settings import ServiceSettings

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[3] / "examples" / "ministry_consumer.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ministry_consumer", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def arguments(nats_url: str, runtime: Runtime, db: Path, *, create: bool) -> argparse.Namespace:
    return argparse.Namespace(
        nats_url=nats_url,
        user=None,
        password=None,
        stream=runtime.streams.name("public"),
        durable="ministry-test",
        filter=runtime.streams.subjects("public"),
        create=create,
        db=str(db),
        batch=100,
        wait=0.5,
        max_events=None,
        exit_when_idle=True,
    )


def seen(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("SELECT id FROM seen ORDER BY id")]


async def test_the_example_consumes_each_public_event_once_and_resumes(
    nats_url: str, make_settings: Callable[..., ServiceSettings], tmp_path: Path
) -> None:
    example = load_example()
    runtime = Runtime(make_settings(ServiceSettings, service_name="example"))
    db = tmp_path / "ministry.sqlite3"
    async with runtime.started():
        first = [
            CommentPublished(subject="c1", data=CommentPublishedData(comment_id=new_id(), text="א"))
            for _ in range(3)
        ]
        await runtime.publisher.publish_public(*first)
        assert await example.consume(arguments(nats_url, runtime, db, create=True)) == 3
        assert seen(db) == sorted(e.id for e in first)

        # a redelivered copy (another message id) and a new event; the consumer resumes
        later = CommentPublished(subject="c1", data=CommentPublishedData(comment_id="x", text="ב"))
        await runtime.broker.publish(
            first[0].to_json(),
            subject=first[0].subject_for(runtime.streams.namespace, "public"),
            headers={"Nats-Msg-Id": new_id()},
            stream=runtime.streams.name("public"),
        )
        await runtime.publisher.publish_public(later)
        # acked before: only the copy and the new one come (the copy is recognised by its id)
        assert await example.consume(arguments(nats_url, runtime, db, create=False)) == 2
        assert seen(db) == sorted([*(e.id for e in first), later.id])
