"""The whole stack as ``make up`` runs it: the four services as child processes on free ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kolot.devstack import ServiceGroup, free_port
from tests.e2e.stack import QUICK_ENV, service_group
from tests.local_server import serving


@pytest.fixture(scope="module")
def stack(
    nats_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceGroup]:
    log_dir: Path = tmp_path_factory.mktemp("e2e-logs")
    group = service_group(nats_url, mongo_url, prefix="e", log_dir=log_dir, env=QUICK_ENV)
    with group:
        yield group


@dataclass
class Receiver:
    """A ministry's webhook endpoint on localhost: records every request it gets."""

    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def wait_for(
        self, count: int, timeout: float = 15.0
    ) -> list[tuple[dict[str, str], bytes]]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.requests) < count and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        return self.requests


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    found = Receiver(url=f"http://127.0.0.1:{port}/hooks/kolot")

    async def hook(request: Request) -> Response:
        found.requests.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hooks/kolot", hook, methods=["POST"])])
    async with serving(app, port=port):
        yield found


def json_of(response: Any) -> Any:
    assert response.status_code < 300, f"{response.status_code}: {response.text}"
    return response.json()
