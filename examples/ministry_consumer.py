"""A ministry consuming Kolot's public events straight from NATS (KOLOT_PUBLIC), durably.

The ministry's NATS account may only use its own durable pull consumer on KOLOT_PUBLIC (read its
info, fetch, ack: deploy/nats/values.yaml, docs/notify.md "Consuming KOLOT_PUBLIC directly"), so
this client binds to that consumer by name and never creates or looks up anything else. It
depends on nats-py only, not on Kolot: it is what a ministry's own system would run.

Every message is a CloudEvents 1.0 JSON document (``application/cloudevents+json``). Delivery is
at least once: the consumer is acked only after the event was handled, and handling is idempotent
on the event ``id`` (here: a small SQLite table of seen ids, committed with the effect). Stopped
and restarted, it continues where it acked; an operator can rewind the consumer for a replay.

Development (against ``kolot-dev up``'s NATS, where one user may do anything), create the
consumer as an operator would, then consume:

    .venv/bin/python examples/ministry_consumer.py --nats-url nats://127.0.0.1:<port> --create

Production (the ministry's own user, the consumer created by Kolot's operators):

    python ministry_consumer.py --nats-url tls://kolot-nats.example:4222 \\
        --user ministry-transport --password "$NATS_PASSWORD" --durable ministry-transport
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sqlite3
from contextlib import closing, suppress
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

log = logging.getLogger("ministry")


class Inbox:
    """What the ministry keeps: the events it handled, once each (SQLite, for the example)."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, type TEXT, body TEXT)"
        )

    def handle(self, event: dict[str, Any]) -> bool:
        """Store the event unless it was handled before; True if it was new."""
        with self._db:  # one transaction: the effect and the id commit together
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO seen (id, type, body) VALUES (?, ?, ?)",
                (event["id"], event["type"], json.dumps(event, ensure_ascii=False)),
            )
            return cursor.rowcount == 1

    def close(self) -> None:
        self._db.close()


def describe(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    if event["type"] == "kolot.comment.published":
        return f"comment {data.get('comment_id')}: {str(data.get('text', ''))[:80]}"
    if event["type"] == "kolot.outcome.published":
        summary = data.get("summary") or {}
        return f"outcome {data.get('outcome_id')}: {summary.get('he') or summary.get('en')}"
    if event["type"].startswith("kolot.campaign."):
        return f"campaign {event['subject']} {event['type'].rsplit('.', 1)[1]}"
    return event["type"]


async def consume(args: argparse.Namespace) -> int:
    """Consume until stopped (or idle, or ``max_events``); returns how many were handled."""
    options: dict[str, Any] = {"name": f"ministry-consumer:{args.durable}"}
    if args.user:
        options.update(user=args.user, password=args.password)
    nc = await nats.connect(args.nats_url, **options)
    js = nc.jetstream()
    if args.create:
        # what an operator does once per ministry (docs/operations.md, "Add a ministry")
        await js.add_consumer(
            args.stream,
            ConsumerConfig(
                durable_name=args.durable,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30,
                max_deliver=20,
                filter_subject=args.filter,
            ),
        )
    # bind by name: the ministry's account may not look streams up or create consumers
    subscription = await js.pull_subscribe_bind(durable=args.durable, stream=args.stream)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    inbox = Inbox(args.db)
    handled = 0
    try:
        while not stop.is_set() and (args.max_events is None or handled < args.max_events):
            try:
                messages = await subscription.fetch(args.batch, timeout=args.wait)
            except (TimeoutError, NatsTimeoutError):
                if args.exit_when_idle:
                    break
                continue
            for msg in messages:
                try:
                    event = json.loads(msg.data)
                    new = inbox.handle(event)
                except (ValueError, KeyError) as exc:
                    # not a CloudEvent we understand: never ack silently, leave it for a person
                    log.error("cannot handle message %s: %s", msg.metadata.sequence.stream, exc)
                    await msg.term()
                    continue
                # acked only once the effect is stored: a crash before this redelivers it
                await msg.ack()
                handled += 1
                log.info(
                    "%s #%d %s%s",
                    event["type"],
                    msg.metadata.sequence.stream,
                    describe(event),
                    "" if new else " (seen before: skipped)",
                )
    finally:
        inbox.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        # acks are sent as they happen: close without drain (nats-py's drain of a pull
        # subscription waits for its timeout)
        with suppress(Exception):
            await nc.flush()  # the acks reach the server before the connection closes
            await subscription.unsubscribe()
        await nc.close()
    log.info("handled %d events", handled)
    return handled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--stream", default="KOLOT_PUBLIC")
    parser.add_argument("--durable", default="ministry-transport")
    parser.add_argument("--filter", default="kolot.public.>", help="with --create only")
    parser.add_argument("--create", action="store_true", help="create the consumer (development)")
    parser.add_argument("--db", default="ministry-events.sqlite3")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--wait", type=float, default=5.0, help="seconds a fetch waits")
    parser.add_argument("--max-events", type=int, default=None)
    parser.add_argument("--exit-when-idle", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with closing(asyncio.new_event_loop()) as loop:
        loop.run_until_complete(consume(args))


if __name__ == "__main__":
    main()
