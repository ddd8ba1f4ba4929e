"""The HTTP client that calls webhook endpoints, and its guard against SSRF at connection time.

The subscription's URL was checked when it was created, but a name can resolve elsewhere later
(DNS rebinding). So the client resolves every host itself, refuses the connection if any address
is not public (unless the host is allowed by configuration), and connects to the address it
checked, never to a name resolved a second time. TLS still verifies the certificate against the
host name (SNI and the check use the URL's host, not the address).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable, Mapping

import httpcore
import httpx

from kolot.notify.delivery import AttemptResult
from kolot.notify.settings import NotifySettings
from kolot.notify.targets import Resolver, is_allowed_host, refused_addresses, resolve

# httpcore's SOCKET_OPTION (private there)
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class TargetRefusedOnConnect(httpcore.ConnectError):
    """The host now resolves to an address webhooks may not reach."""


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    def __init__(
        self,
        allowed_hosts: Collection[str],
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self._allowed_hosts = allowed_hosts
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if is_allowed_host(host, self._allowed_hosts):
            return await self._inner.connect_tcp(
                host, port, timeout=timeout, local_address=local_address,
                socket_options=socket_options,
            )  # fmt: skip
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._resolver(host, port)
        except (OSError, UnicodeError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        reason = refused_addresses(addresses) if addresses else f"{host} has no address"
        if reason is not None:
            raise TargetRefusedOnConnect(f"refused to connect to {host}: {reason}")
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose connections go through the guard."""

    def __init__(self, *, allowed_hosts: Collection[str], limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # httpx has no public way to pass a network backend to its pool: build the pool as
        # AsyncHTTPTransport does (without proxies: a proxy would bypass the guard)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(allowed_hosts),
        )


def create_http_client(settings: NotifySettings) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=settings.webhook_concurrency * 2,
        max_keepalive_connections=settings.webhook_concurrency,
    )
    return httpx.AsyncClient(
        transport=GuardedTransport(allowed_hosts=settings.webhook_allowed_hosts, limits=limits),
        timeout=httpx.Timeout(settings.webhook_timeout),
        follow_redirects=False,  # a redirect could lead anywhere, including inside
        trust_env=False,
    )


class WebhookSender:
    """POSTs one signed CloudEvent; never raises: the outcome is in the result."""

    def __init__(self, client: httpx.AsyncClient, *, timeout: float) -> None:
        self._client = client
        self._timeout = timeout

    async def __call__(self, url: str, body: str, headers: Mapping[str, str]) -> AttemptResult:
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            # one deadline for the whole attempt: httpx's timeouts are per read, so a server
            # trickling bytes could otherwise hold a slot for ever
            async with asyncio.timeout(self._timeout):
                # streamed and never read: the status is all we need, whatever the body's size
                async with self._client.stream(
                    "POST", url, content=body.encode(), headers=dict(headers)
                ) as response:
                    status_code = response.status_code
        except TimeoutError:
            error = f"no response within {self._timeout:g}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = (time.perf_counter() - started) * 1000
        if status_code is not None and not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
        return AttemptResult(status_code=status_code, error=error, duration_ms=duration_ms)
