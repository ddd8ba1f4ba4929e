"""CPU used over a benchmark stage by the service under test (run in this process), the store
and the bus, for the consumers' benchmarks (metrics.py, moderation.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit


def server_cpu(url: str, *names: bytes) -> float:
    """CPU seconds used so far by the local server process (one of ``names`` in its command line)
    listening on ``url``'s port (Linux /proc; 0 when not found, e.g. a remote server). On a
    shared 2-core machine the CPU a stage costs per event is steadier than its rate."""
    port = str(urlsplit(url).port).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            if any(name in part for part in command for name in names) and port in command:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return 0.0


class CpuMeter:
    """CPU seconds of this process (the service runs in it), the store and the bus over a stage."""

    def __init__(self, mongo_url: str, nats_url: str) -> None:
        self._urls = (mongo_url, nats_url)
        self._start = self._now()

    def _now(self) -> tuple[float, float, float]:
        mongo_url, nats_url = self._urls
        return (
            time.process_time(),
            server_cpu(mongo_url, b"nx-27017", b"kolot.devstack._nx"),
            server_cpu(nats_url, b"nats-server"),
        )

    def per_thousand(self, count: int) -> str:
        """CPU ms per 1000 events since the meter started: service, store, bus."""
        used = [(b - a) * 1_000_000 / count for a, b in zip(self._start, self._now(), strict=True)]
        return f"service {used[0]:.0f}, store {used[1]:.0f}, bus {used[2]:.0f}"
