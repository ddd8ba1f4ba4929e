"""Limits applied at the edge, before FastAPI parses anything: request body size.

A pure ASGI middleware, so a request that announces a body over the limit is refused with
``413`` before a byte of it is read, and a chunked body is cut off as soon as it passes the
limit: nothing is buffered beyond it. Requests within their limit cost one scan of the headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kolot.common.problems import PROBLEM_BASE, PROBLEM_CONTENT_TYPE

BodyLimits = Iterable[tuple[str | re.Pattern[str], int]]
"""Per-path limits: ``(regex, bytes)`` pairs; the first regex matching the whole path wins."""

_CONTENT_LENGTH: Final = b"content-length"


def _size(limit: int) -> str:
    if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


def _problem(
    status: int, kind: str, title: str, detail: str, path: str, **extensions: object
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = json.dumps(
        {
            "type": PROBLEM_BASE + kind,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path,
            **extensions,
        },
        ensure_ascii=False,
    ).encode()
    headers = [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        # the rest of an over-long body is not worth reading: end the connection after this answer
        (b"connection", b"close"),
    ]
    return headers, body


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class BodyLimit:
    """Refuse request bodies over ``default`` bytes (or a per-path limit) with a 413 problem.

    ``Content-Length`` is checked up front. A body without one (chunked) is counted as it
    streams; once it passes the limit the 413 is sent, the application is told the client went
    away, and whatever it answers after that is dropped.
    """

    def __init__(self, app: ASGIApp, *, default: int, overrides: BodyLimits = ()) -> None:
        if default < 0:
            raise ValueError("a body limit is a number of bytes, at least 0")
        self.app = app
        self.default = default
        self.overrides = [
            (re.compile(pattern) if isinstance(pattern, str) else pattern, limit)
            for pattern, limit in overrides
        ]
        if any(limit < 0 for _, limit in self.overrides):
            raise ValueError("a body limit is a number of bytes, at least 0")

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.overrides:
            if pattern.fullmatch(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"]) if self.overrides else self.default
        declared: bytes | None = None
        for name, value in scope["headers"]:
            if name == _CONTENT_LENGTH:
                declared = value
                break
        if declared is not None:
            # the server reads exactly Content-Length bytes, so a request within its limit
            # needs no counting: the hot path pays for this header scan only
            if not declared.isdigit():
                headers, body = _problem(
                    400,
                    "bad-request",
                    "Bad request",
                    "The Content-Length header is not a number of bytes.",
                    scope["path"],
                )
                await _answer(send, 400, headers, body)
                return
            if int(declared) > limit:
                await self._refuse(scope, send, limit)
                return
            await self.app(scope, receive, send)
            return
        await _Counted(self, scope, receive, send, limit).run()

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        headers, body = _problem(
            413,
            "too-large",
            "Request too large",
            f"The request body is larger than {_size(limit)}, the limit for this address. "
            "Send less: shorten the text, or split the contributions over several requests.",
            scope["path"],
            max_bytes=limit,
        )
        await _answer(send, 413, headers, body)


class _Counted:
    """One request whose body arrives without a Content-Length, counted as it streams."""

    __slots__ = ("answered", "edge", "limit", "receive", "received", "scope", "send", "started")

    def __init__(self, edge: BodyLimit, scope: Scope, receive: Receive, send: Send, limit: int):
        self.edge = edge
        self.scope = scope
        self.receive = receive
        self.send = send
        self.limit = limit
        self.received = 0
        self.started = False
        self.answered = False

    async def run(self) -> None:
        try:
            await self.edge.app(self.scope, self._receive, self._send)
        except Exception:
            # after the 413 the application only saw a client that went away; what it made of
            # that (usually an error about the body) concerns nobody
            if not self.answered:
                raise

    async def _receive(self) -> Message:
        if self.answered:
            return {"type": "http.disconnect"}
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                if not self.started:
                    await self.edge._refuse(self.scope, self.send, self.limit)
                    self.answered = True
                # too late for a 413 once the application answers: it just sees no more body
                return {"type": "http.disconnect"}
        return message

    async def _send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)
