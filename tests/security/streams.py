"""Reading what a stream holds, message by message, to search it for what must not be there."""

from __future__ import annotations

import json

from nats.aio.client import Client as NATS
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError


async def stored_messages(nats_url: str, stream: str) -> list[RawStreamMsg]:
    """Every message ``stream`` still holds, in order (deleted and purged ones are skipped)."""
    nc = NATS()
    await nc.connect(nats_url)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(stream)).state
        found: list[RawStreamMsg] = []
        for sequence in range(state.first_seq, state.last_seq + 1):
            try:
                found.append(await js.get_msg(stream, sequence))
            except NotFoundError:
                continue  # deleted or purged
        return found
    finally:
        await nc.close()


async def stream_messages(nats_url: str, stream: str) -> list[tuple[str, str]]:
    """Every message stored in ``stream``: its subject, and its headers and data as one text to
    search (see ``searchable``)."""
    return [
        (
            str(msg.subject),
            json.dumps(msg.headers or {}, ensure_ascii=False) + "\n" + searchable(msg.data or b""),
        )
        for msg in await stored_messages(nats_url, stream)
    ]


def searchable(raw: bytes) -> str:
    # JSON escapes non-ASCII ("\u05e9"): search the decoded text as well as the bytes
    text = raw.decode("utf-8", "replace")
    try:
        return text + "\n" + json.dumps(json.loads(raw), ensure_ascii=False)
    except ValueError:
        return text
