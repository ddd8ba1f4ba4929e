"""Reading KOLOT_PUBLIC back for a replay: from a stream sequence or from a time, a page at a time.

An ephemeral consumer (no durable state on the server) reads the page and is deleted; the
caller continues from ``last_sequence + 1``. Undecodable messages are skipped (counted).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from kolot.common.bus import Streams
from kolot.common.events import Event, parse_event

log = logging.getLogger(__name__)

FETCH = 500


@dataclass(slots=True)
class Page:
    events: list[Event] = field(default_factory=list)
    scanned: int = 0
    last_sequence: int | None = None
    more: bool = False


async def read_public(
    js: JetStreamContext,
    streams: Streams,
    *,
    from_sequence: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int,
) -> Page:
    if from_sequence is not None:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=from_sequence,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
        )
    else:
        assert since is not None
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=since,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
        )
    page = Page()
    subscription = await js.pull_subscribe(
        streams.subjects("public"), stream=streams.name("public"), config=config
    )
    try:
        while page.scanned < limit:
            try:
                batch = await subscription.fetch(min(FETCH, limit - page.scanned), timeout=1.0)
            except TimeoutError:
                return page  # caught up with the stream
            for msg in batch:
                page.scanned += 1
                page.last_sequence = msg.metadata.sequence.stream
                pending = msg.metadata.num_pending
                try:
                    event = parse_event(msg.data)
                except Exception as exc:
                    log.warning("replay skips an undecodable message: %s", exc)
                    continue
                if until is not None and event.time > until:
                    return page
                page.events.append(event)
                if pending == 0:
                    return page
        page.more = True
        return page
    finally:
        try:
            await subscription.unsubscribe()
        except Exception as exc:  # the server drops it after inactive_threshold anyway
            log.debug("replay consumer not removed: %s", exc)
