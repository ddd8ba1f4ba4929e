"""The national consultation simulator at 10,000 comments: every accepted comment is on the bus
once, decided once, and counted once by metrics, through a flash crowd, form letters, abuse, three
languages and meeting uploads (bench/national.py; docs/benchmarks.md has the full-size figures)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench" / "national.py"
COMMENTS = 10_000


def test_ten_thousand_comments_are_each_decided_and_counted_exactly_once(
    nats_url: str, mongo_url: str, tmp_path: Path
) -> None:
    report_file = tmp_path / "national.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--comments",
            str(COMMENTS),
            "--nats-url",
            nats_url,
            "--mongo-url",
            mongo_url,
            "--progress",
            "30",
            "--drain-timeout",
            "240",
            "--log-dir",
            str(tmp_path / "logs"),
            "--json",
            str(report_file),
        ],
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert report_file.exists(), f"no report:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    report = json.loads(report_file.read_text())
    checks = report["checks"]
    problems = json.dumps(report["problems"])[:2000]

    assert report["drained"], done.stdout[-3000:]
    accepted = report["accepted"]
    # every comment was accepted (a refusal is retried with its Idempotency-Key, never dropped),
    # plus the one probe per campaign that waits for intake to know the campaigns
    assert accepted["failed"] == 0, done.stdout[-3000:]
    assert accepted["http"] + accepted["uploads"] == COMMENTS + len(report["campaigns"])
    assert accepted["on_bus"] == accepted["http"] + accepted["uploads"]
    for check in (
        "every accepted id is on the bus",
        "no comment is on the bus twice",
        "every comment on the bus is decided",
        "every comment is decided once",
        "no decision for an unknown comment",
        "uploaded rows published = on the bus from meetings",
        "metrics counts = accepted and decided, per campaign",
        "no HTTP id accepted twice",
    ):
        assert checks[check], f"{check}: {problems}"
    assert report["moderated"]["count"] == accepted["on_bus"]
    # the mix is what a national consultation sends: some abuse is rejected, most is published
    decisions = report["moderated"]["decisions"]
    assert decisions.get("reject", 0) > 0
    assert decisions.get("approve", 0) > COMMENTS / 2
