"""The flash crowd's path: ``POST /v1/campaigns/{id}/comments`` served without FastAPI's routing.

The route is still a FastAPI route (documented in the OpenAPI, and reached when this is not
installed); this middleware calls the same endpoint function with the same request, and answers
its errors through the app's own exception handlers, so what a client sees is identical. What it
skips is the framework's per-request machinery (route matching, parameter solving, the exception
and exit-stack wrappers), which costs more than everything intake does before the publish
(bench/intake.py). It sits inside the body limit, tracing and latency middlewares, which still
apply, and sets ``scope["route"]`` so they label the request by its route as before.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[str, Request], Awaitable[Response]]


class CommentHotPath:
    def __init__(self, app: ASGIApp, *, route: APIRoute, endpoint: Endpoint) -> None:
        self.app = app
        self.route = route
        self.endpoint = endpoint
        # the route's own pattern: "{campaign_id}" matches what FastAPI would match
        self.path = re.compile(route.path_regex.pattern)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (
            self.path.match(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if match is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        scope["path_params"] = match.groupdict()
        request = Request(scope, receive)
        try:
            response = await self.endpoint(match["campaign_id"], request)
        except Exception as exc:
            handler = _handler_for(request, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


def _handler_for(
    request: Request, exc: Exception
) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            handler: Callable[[Request, Exception], Awaitable[Response]] = handlers[cls]
            return handler
    return None
