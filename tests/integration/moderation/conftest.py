"""Fixtures every moderation integration test needs: the service's settings on this test's bus
and database, and a JetStream client to publish and read events with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext

from kolot.moderation.settings import ModerationSettings


@pytest.fixture
def settings(make_settings: Callable[..., Any]) -> ModerationSettings:
    settings: ModerationSettings = make_settings(ModerationSettings)
    return settings


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    client = await nats.connect(nats_url)
    try:
        yield client.jetstream()
    finally:
        await client.close()
