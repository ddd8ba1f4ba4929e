"""SSRF through notify's webhooks: a subscription may not make Kolot call into its own network.

Run with ``webhook_allowed_hosts`` empty (or naming only a stand-in for a public host), so that
no address under test is allowed. Three layers are attacked: the URL check when subscribing
(every spelling of an inside address), redirects at delivery (a public endpoint answering 30x to
an inside one), and DNS rebinding (a name that resolves public when subscribing and inside when
delivering), each proven with a real listener inside that must receive nothing.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kolot.common.auth import Role
from kolot.devstack import free_port
from tests.conftest import running_app, staff_headers
from tests.integration.contract.services import build_app
from tests.integration.contract.test_authorisation import assert_problem
from tests.local_server import serving

pytestmark = pytest.mark.integration

INTEGRATOR = staff_headers(Role.INTEGRATOR)
PUBLIC: Final = "93.184.215.14"  # a public address: subscribing checks it, never connects
EVENTS: Final = ["kolot.comment.published"]

INSIDE_URLS: Final[dict[str, str]] = {
    # private ranges
    "10/8": "http://10.0.0.1/hooks",
    "10/8, last": "http://10.255.255.254/hooks",
    "172.16/12": "http://172.16.0.1/hooks",
    "172.16/12, last": "http://172.31.255.254/hooks",
    "192.168/16": "http://192.168.1.1/hooks",
    "carrier-grade NAT 100.64/10": "http://100.64.0.1/hooks",
    "benchmarking 198.18/15": "http://198.18.0.1/hooks",
    "IPv6 unique local": "http://[fd00::1]/hooks",
    # loopback and unspecified
    "127.0.0.1": "http://127.0.0.1/hooks",
    "127.0.0.0/8": "http://127.10.20.30:8080/hooks",
    "localhost": "http://localhost/hooks",
    "LOCALHOST.": "http://LOCALHOST./hooks",
    "::1": "http://[::1]/hooks",
    "0.0.0.0": "http://0.0.0.0/hooks",
    "::": "http://[::]/hooks",
    "0": "http://0/hooks",
    # link-local and the cloud metadata service
    "metadata 169.254.169.254": "http://169.254.169.254/latest/meta-data/",
    "metadata, https": "https://169.254.169.254/computeMetadata/v1/",
    "link-local 169.254/16": "http://169.254.1.1/hooks",
    "IPv6 link-local": "http://[fe80::1]/hooks",
    "IPv6 link-local with a zone": "http://[fe80::1%25eth0]/hooks",
    # IPv4 inside IPv6
    "IPv4-mapped ::ffff:127.0.0.1": "http://[::ffff:127.0.0.1]/hooks",
    "IPv4-mapped, hex": "http://[::ffff:7f00:1]/hooks",
    "IPv4-mapped metadata": "http://[::ffff:169.254.169.254]/hooks",
    "IPv4-mapped 10/8": "http://[::ffff:10.0.0.1]/hooks",
    "NAT64 of loopback": "http://[64:ff9b::7f00:1]/hooks",
    "6to4 of loopback": "http://[2002:7f00:1::1]/hooks",
    # other spellings of 127.0.0.1 (inet_aton reads them all)
    "decimal 2130706433": "http://2130706433/hooks",
    "octal 0177.0.0.1": "http://0177.0.0.1/hooks",
    "hex 0x7f.1": "http://0x7f.1/hooks",
    "hex 0x7f000001": "http://0x7f000001/hooks",
    "short 127.1": "http://127.1/hooks",
    "octal 017700000001": "http://017700000001/hooks",
    "fullwidth digits": "http://１２７.０.０.１/hooks",
    "decimal metadata 2852039166": "http://2852039166/latest/meta-data/",
    # multicast, broadcast, reserved
    "multicast": "http://224.0.0.1/hooks",
    "broadcast": "http://255.255.255.255/hooks",
    "reserved 240/4": "http://240.0.0.1/hooks",
    # userinfo and parser confusion
    "userinfo then 127.0.0.1": f"http://{PUBLIC}@127.0.0.1/hooks",
    "user and password then 127.0.0.1": "http://good:secret@127.0.0.1/hooks",
    "credentials to a public host": f"http://user:pw@{PUBLIC}/hooks",
    "backslash before @": f"http://{PUBLIC}\\@127.0.0.1/hooks",
    "fragment with @": f"http://127.0.0.1#@{PUBLIC}/hooks",
    "port-looking userinfo": f"http://127.0.0.1:80@{PUBLIC}/hooks",
    "leading whitespace": " http://127.0.0.1/hooks",
    # other schemes
    "file": "file:///etc/passwd",
    "gopher to redis": "gopher://127.0.0.1:6379/_FLUSHALL",
    "ftp": f"ftp://{PUBLIC}/hooks",
    "dict": "dict://127.0.0.1:11211/stats",
    "no scheme": "//127.0.0.1/hooks",
    "a host that does not resolve": "http://kolot-ssrf.invalid/hooks",
}


async def subscribe(client: httpx.AsyncClient, url: str) -> httpx.Response:
    return await client.post(
        "/v1/subscriptions", json={"url": url, "event_types": EVENTS}, headers=INTEGRATOR
    )


async def test_inside_addresses_are_refused_in_every_spelling(
    make_settings: Callable[..., Any], subtests: pytest.Subtests
) -> None:
    async with running_app(build_app("notify", make_settings, webhook_allowed_hosts=())) as client:
        accepted = await subscribe(client, f"http://{PUBLIC}/hooks")
        assert accepted.status_code == 201, accepted.text
        for name, url in INSIDE_URLS.items():
            with subtests.test(msg=name):
                response = await subscribe(client, url)
                assert_problem(response, 422)
        listed = await client.get("/v1/subscriptions", headers=INTEGRATOR)
        assert [s["url"] for s in listed.json()["items"]] == [f"http://{PUBLIC}/hooks"]


# -- at delivery ---------------------------------------------------------------------------------


@dataclass
class Listener:
    """An HTTP server on 127.0.0.1: the inside target of an attack, or a stand-in endpoint."""

    port: int
    hits: list[str] = field(default_factory=list)


@asynccontextmanager
async def listening(
    answer: Callable[[Request], Response] = lambda _: Response(status_code=204),
) -> AsyncIterator[Listener]:
    listener = Listener(free_port())

    async def endpoint(request: Request) -> Response:
        listener.hits.append(f"{request.method} {request.url.path}")
        return answer(request)

    routes = [Route("/{path:path}", endpoint, methods=["GET", "POST"])]
    async with serving(Starlette(routes=routes), port=listener.port):
        yield listener


async def test_a_redirect_to_an_inside_address_is_not_followed(
    make_settings: Callable[..., Any], subtests: pytest.Subtests
) -> None:
    # "localhost" stands in for a public endpoint; 127.0.0.1, where it redirects, is not allowed
    settings = {"webhook_allowed_hosts": ("localhost",)}
    async with (
        listening() as inside,
        running_app(build_app("notify", make_settings, **settings)) as client,
    ):
        for status in (301, 302, 303, 307, 308):
            with subtests.test(msg=f"HTTP {status}"):
                target = f"http://127.0.0.1:{inside.port}/internal/{status}"

                def redirect(_: Request, target: str = target, status: int = status) -> Response:
                    return RedirectResponse(target, status_code=status)

                async with listening(redirect) as endpoint:
                    created = await subscribe(client, f"http://localhost:{endpoint.port}/hooks")
                    assert created.status_code == 201, created.text
                    subscription = created.json()["id"]
                    tested = await client.post(
                        f"/v1/subscriptions/{subscription}/test", headers=INTEGRATOR
                    )
                    assert tested.status_code == 200, tested.text
                    assert endpoint.hits == ["POST /hooks"]
                    assert tested.json()["delivered"] is False
                    assert tested.json()["status_code"] == status
        assert inside.hits == [], "a redirect was followed inside"


async def test_a_name_rebound_to_an_inside_address_is_refused_at_delivery(
    make_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_getaddrinfo = socket.getaddrinfo
    rebinding = {"address": PUBLIC}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        # a DNS answer the attacker controls, for one name only (NATS and MongoDB resolve too)
        if host == "rebind.kolot-test.example":
            return real_getaddrinfo(rebinding["address"], port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    async with (
        listening() as inside,
        running_app(build_app("notify", make_settings, webhook_allowed_hosts=())) as client,
    ):
        url = f"http://rebind.kolot-test.example:{inside.port}/hooks"
        created = await subscribe(client, url)
        assert created.status_code == 201, created.text  # public when subscribing

        rebinding["address"] = "127.0.0.1"  # inside when delivering
        tested = await client.post(
            f"/v1/subscriptions/{created.json()['id']}/test", headers=INTEGRATOR
        )
        assert tested.status_code == 200, tested.text
        assert tested.json()["delivered"] is False
        assert "127.0.0.1 is a loopback address" in tested.json()["error"]

        rebinding["address"] = "::ffff:169.254.169.254"
        again = await client.post(
            f"/v1/subscriptions/{created.json()['id']}/test", headers=INTEGRATOR
        )
        assert again.json()["delivered"] is False
        assert "link-local" in again.json()["error"]
        assert inside.hits == [], "a rebound name was connected to"
