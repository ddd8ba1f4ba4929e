"""RFC 9457 problem details: every error a Kolot API returns, as ``application/problem+json``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from kolot.common.auth import AuthError
from kolot.common.bus import BusUnavailable

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]
PROBLEM_BASE = "https://kolot.example/problems/"


class Problem(Exception):
    """Raise to answer with a problem document; ``kind`` becomes the ``type`` URI's last segment."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(
    request: Request,
    status: int,
    kind: str,
    title: str,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind,
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    body.update(extensions)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_CONTENT_TYPE)


_STATUS_KINDS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Request too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation", "Invalid request"),
    429: ("rate-limited", "Too many requests"),
}


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            request,
            exc.status,
            exc.kind,
            exc.title,
            exc.detail,
            headers=exc.headers,
            **exc.extensions,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind, title = _STATUS_KINDS.get(exc.status_code, ("error", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            request, exc.status_code, kind, title, detail, headers=dict(exc.headers or {})
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "location": list(map(str, err.get("loc", ()))),
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        return problem_response(
            request,
            422,
            "validation",
            "Invalid request",
            "The request does not match the expected shape; see errors.",
            errors=errors,
        )

    async def on_auth(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthError)
        kind, title = _STATUS_KINDS[exc.status]
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(request, exc.status, kind, title, exc.detail, headers=headers)

    def unavailable(kind: str, title: str, detail: str, retry_after: int) -> Handler:
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            log.warning("answering 503 %s: %s", kind, exc)
            return problem_response(
                request, 503, kind, title, detail, headers={"Retry-After": str(retry_after)}
            )

        return handler

    on_bus = unavailable(
        "bus-unavailable",
        "Temporarily unable to accept input",
        "The bus did not confirm the input, so it may not have been recorded. Retry after the "
        "indicated delay with the same Idempotency-Key: it is then recorded exactly once.",
        2,
    )
    on_store = unavailable(
        "store-unavailable",
        "Temporarily unavailable",
        "The data store did not answer. Please retry after the indicated delay.",
        5,
    )

    async def on_disconnect(request: Request, exc: Exception) -> JSONResponse:
        # the client went away before its body was complete (or the edge cut an over-long body
        # off): nobody reads this answer, and it is no server error to alert anyone about
        log.info("client went away during %s %s", request.method, request.url.path)
        return problem_response(
            request, 400, "incomplete-body", "Incomplete request", "The request body ended early."
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            request, 500, "internal", "Internal error", "The error was logged; please retry later."
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(AuthError, on_auth)
    app.add_exception_handler(BusUnavailable, on_bus)
    app.add_exception_handler(ConnectionFailure, on_store)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    app.add_exception_handler(Exception, on_unexpected)
