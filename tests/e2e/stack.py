"""The whole stack as ``make up`` runs it, for every suite that drives the four services as child
processes (e2e, browser, security, faults), and how those suites wait for what it does."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from kolot.devstack import ServiceGroup, free_port

SERVICES = ("intake", "moderation", "notify", "metrics")

# short batch and snapshot periods, so what a test does shows within a second, and plain logs
QUICK_ENV = {
    "KOLOT_LOG_JSON": "false",
    "KOLOT_CONSUMER_BATCH_TIMEOUT": "0.5",
    "KOLOT_SNAPSHOT_INTERVAL": "0.5",
}


def service_group(
    nats_url: str, mongo_url: str, *, prefix: str, log_dir: Path, env: Mapping[str, str]
) -> ServiceGroup:
    """The four services on free ports, in a namespace of their own starting with ``prefix``."""
    return ServiceGroup(
        nats_url=nats_url,
        mongo_url=mongo_url,
        namespace=f"{prefix}{secrets.token_hex(5)}",
        ports={name: free_port() for name in SERVICES},
        extra_env=dict(env),
        log_dir=log_dir,
    )


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 20.0, what: str = "condition"
) -> Any:
    """The first truthy result of ``check``, polled until ``timeout`` seconds have passed."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout}s (last: {last!r})")
