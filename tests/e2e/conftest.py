"""The whole stack as ``make up`` runs it: the four services as child processes on free ports."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kolot.devstack import ServiceGroup, free_port


@pytest.fixture(scope="module")
def stack(
    nats_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceGroup]:
    log_dir: Path = tmp_path_factory.mktemp("e2e-logs")
    group = ServiceGroup(
        nats_url=nats_url,
        mongo_url=mongo_url,
        namespace=f"e{secrets.token_hex(5)}",
        ports={name: free_port() for name in ("intake", "moderation", "notify", "metrics")},
        extra_env={
            "KOLOT_LOG_JSON": "false",
            "KOLOT_CONSUMER_BATCH_TIMEOUT": "0.5",
            "KOLOT_SNAPSHOT_INTERVAL": "0.5",
        },
        log_dir=log_dir,
    )
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
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield found
    finally:
        server.should_exit = True
        await task


def json_of(response: Any) -> Any:
    assert response.status_code < 300, f"{response.status_code}: {response.text}"
    return response.json()
