"""Where a service's memory goes, for diagnosis: ``KOLOT_TRACEMALLOC=<folder>``.

When set, the service traces its Python allocations (``tracemalloc``, 8 frames) and every 60 s
writes ``<service>-<pid>.txt`` in that folder: the 40 places that hold the most memory now, and
how much each grew since tracing began. The process runs slower and uses more memory while it
traces: for benchmarks and investigations, never for production.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from pathlib import Path

VARIABLE = "KOLOT_TRACEMALLOC"
EVERY_SECONDS = 60.0
TOP = 40


def trace_memory_if_asked(service: str) -> None:
    folder = os.environ.get(VARIABLE)
    if not folder:
        return
    path = Path(folder) / f"{service}-{os.getpid()}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    tracemalloc.start(8)
    first = tracemalloc.take_snapshot()
    started = time.monotonic()

    def write() -> None:
        while True:
            time.sleep(EVERY_SECONDS)
            now = tracemalloc.take_snapshot()
            current, peak = tracemalloc.get_traced_memory()
            lines = [
                f"after {time.monotonic() - started:.0f} s: traced {current / 2**20:.1f} MiB "
                f"(peak {peak / 2**20:.1f} MiB)",
                "",
                "largest now:",
                *(
                    "\n  ".join([str(stat), *stat.traceback.format(limit=4)])
                    for stat in now.statistics("traceback")[:TOP]
                ),
                "",
                "grown most since start:",
                *(str(stat) for stat in now.compare_to(first, "lineno")[:TOP]),
            ]
            path.write_text("\n".join(lines) + "\n")

    threading.Thread(target=write, name="kolot-memtrace", daemon=True).start()
