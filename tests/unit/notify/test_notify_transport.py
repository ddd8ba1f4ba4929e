"""The connection-time guard: webhooks connect only to checked public addresses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore
import pytest

from kolot.notify.transport import GuardedNetworkBackend, TargetRefusedOnConnect


class RecordingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.connected: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected.append((host, port))
        return httpcore.AsyncNetworkStream()


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "::1", "::ffff:127.0.0.1", "localhost"])
async def test_a_connection_to_a_private_address_is_refused(host: str) -> None:
    inner = RecordingBackend()
    guard = GuardedNetworkBackend((), inner)
    with pytest.raises(TargetRefusedOnConnect):
        await guard.connect_tcp(host, 443, timeout=2)
    assert inner.connected == []


async def test_an_allowed_host_is_connected_by_name() -> None:
    inner = RecordingBackend()
    guard = GuardedNetworkBackend(("localhost",), inner)
    await guard.connect_tcp("localhost", 8080, timeout=2)
    assert inner.connected == [("localhost", 8080)]


async def test_a_public_address_is_connected_as_checked() -> None:
    inner = RecordingBackend()
    guard = GuardedNetworkBackend((), inner)
    await guard.connect_tcp("93.184.216.34", 443, timeout=2)
    assert inner.connected == [("93.184.216.34", 443)]


async def test_a_name_that_now_resolves_inside_is_refused_at_every_connection() -> None:
    # DNS rebinding: the name was public when the subscription was made, and is not any more
    answers = {"hooks.ministry.example": ["93.184.216.34"]}

    async def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    inner = RecordingBackend()
    guard = GuardedNetworkBackend((), inner, resolver=resolver)
    await guard.connect_tcp("hooks.ministry.example", 443, timeout=2)
    assert inner.connected == [("93.184.216.34", 443)]  # the checked address, not the name
    for inside in (["169.254.169.254"], ["10.0.0.1"], ["93.184.216.34", "127.0.0.1"]):
        answers["hooks.ministry.example"] = inside
        with pytest.raises(TargetRefusedOnConnect):
            await guard.connect_tcp("hooks.ministry.example", 443, timeout=2)
    assert inner.connected == [("93.184.216.34", 443)]
