"""Fixtures for every integration test: a service's own database to seed and read directly, and
servers a test stops and starts itself, apart from the shared ones the devstack fixtures give."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from kolot.devstack import MongoServer, NatsServer


@pytest.fixture
async def service_db(mongo_url: str, namespace: str) -> AsyncIterator[Callable[..., Any]]:
    """Opens ``<namespace>_<service>``, the database a service of this test would use; the
    clients are closed when the test ends."""
    clients: list[AsyncMongoClient[dict[str, Any]]] = []

    def open_db(service: str, *, tz_aware: bool = False) -> Any:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=tz_aware)
        clients.append(client)
        return client[f"{namespace}_{service}"]

    try:
        yield open_db
    finally:
        for client in clients:
            await client.close()


@pytest.fixture
def own_nats() -> Iterator[NatsServer]:
    """A NATS server of this test's own, which it may stop and start."""
    server = NatsServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def own_mongo() -> Iterator[MongoServer]:
    """A MongoDB-wire server of this test's own, which it may stop and start."""
    server = MongoServer().start()
    try:
        yield server
    finally:
        server.close()
