"""Pytest fixtures for tests against real servers: ``local_stack``, ``nats_url``, ``mongo_url``,
``nats_server`` (session) and ``namespace`` (per test).

The servers start on first use only, so a unit-test run starts nothing. ``--nats-url`` and
``--mongo-url`` (default: ``NATS_URL`` / ``MONGODB_URL``) point the tests at existing servers
instead, as Temporal's ``--workflow-environment`` does.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kolot.devstack.servers import NatsServer
    from kolot.devstack.stack import LocalStack


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kolot", "Kolot integration servers")
    group.addoption(
        "--nats-url",
        default=os.environ.get("NATS_URL") or None,
        help="an existing NATS server with JetStream (default: $NATS_URL, else start one)",
    )
    group.addoption(
        "--mongo-url",
        default=os.environ.get("MONGODB_URL") or None,
        help="an existing MongoDB(-wire) server (default: $MONGODB_URL, else start nx-27017)",
    )


@pytest.fixture(scope="session")
def local_stack(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """NATS and MongoDB for the whole session: the given URLs, or servers started on free ports.

    Their data and logs are under pytest's temporary directory (``devstack*``), kept after the
    run for a look at what happened.
    """
    from kolot.devstack.stack import LocalStack

    stack = LocalStack(
        nats_url=pytestconfig.getoption("nats_url"),
        mongo_url=pytestconfig.getoption("mongo_url"),
        data_dir=tmp_path_factory.mktemp("devstack"),
    )
    with stack:
        yield stack


@pytest.fixture(scope="session")
def nats_url(local_stack: LocalStack) -> str:
    return local_stack.nats_url


@pytest.fixture(scope="session")
def mongo_url(local_stack: LocalStack) -> str:
    return local_stack.mongo_url


@pytest.fixture(scope="session")
def nats_server(local_stack: LocalStack) -> NatsServer:
    """The NATS server the devstack started, for tests that stop and restart it."""
    if local_stack.nats is None:
        pytest.skip("needs the devstack's own NATS server to restart it, but --nats-url was given")
    return local_stack.nats


@pytest.fixture
def namespace() -> str:
    """A fresh namespace per test (``t`` + 10 hex digits): its own subjects, streams, databases."""
    return f"t{secrets.token_hex(5)}"
