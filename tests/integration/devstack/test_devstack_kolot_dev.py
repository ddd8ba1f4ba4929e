"""``kolot-dev up`` and ``kolot-dev servers`` as a user runs them; no server outlives its parent."""

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymongo
import pytest

from kolot.devstack import SERVICE_NAMES, DevstackError, free_port
from kolot.devstack._process import bin_dir, ensure_port_free

pytestmark = pytest.mark.integration


def read_until(process: subprocess.Popen[bytes], marker: str, timeout: float = 30.0) -> str:
    """The output of ``process`` up to the line containing ``marker``."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    output = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while marker.encode() not in output:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {marker!r} within {timeout} s; got {output.decode()!r}"
            if selector.select(remaining):
                chunk = os.read(fd, 65536)
                assert chunk, f"output ended before {marker!r}: {output.decode()!r}"
                output += chunk
    return output.decode()


def exports(output: str) -> dict[str, str]:
    pairs = (line.removeprefix("export ").split("=", 1) for line in output.splitlines())
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def launch(argv: list[str], *, cwd: Path) -> subprocess.Popen[bytes]:
    """``argv`` in ``cwd`` with its output on one pipe, not told of any NATS or MongoDB."""
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "MONGODB_URL")}
    return subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def kolot_dev(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return launch([str(bin_dir() / "kolot-dev"), *args], cwd=cwd)


@contextmanager
def reaped(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """``process``, killed if the block leaves it running, its pipe closed."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


def port_of(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


def is_listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    except OSError:
        return False
    return True


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports."""
    for _ in range(20):
        base = free_port()
        try:
            for port in range(base, base + count):
                ensure_port_free(port, what="a service")
        except DevstackError:
            continue
        return base
    raise AssertionError(f"no {count} consecutive free ports")


# Runs `kolot-dev` with the stand-in service behind every kolot-<name> console script.
WITH_FAKE_SERVICES = """
import sys
from pathlib import Path
import kolot.devstack.stack
fakes = Path(sys.argv[1])
kolot.devstack.stack.bin_dir = lambda: fakes
from kolot.devstack.cli import main
sys.exit(main(sys.argv[2:]))
"""


@contextmanager
def kolot_dev_up(
    tmp_path: Path, fake_service: list[str], *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`kolot-dev up *args` in tmp_path with the stand-in behind every service, killed if left
    running."""
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for name in SERVICE_NAMES:
        script = fakes / f"kolot-{name}"
        script.write_text(f"#!/bin/sh\nexec {' '.join(fake_service)}\n")
        script.chmod(0o755)
    argv = [sys.executable, "-c", WITH_FAKE_SERVICES, str(fakes), "up", *args]
    with reaped(launch(argv, cwd=tmp_path)) as up:
        yield up


def test_up_starts_everything_reports_a_failed_demo_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, fake_service: list[str]
) -> None:
    base = free_ports(len(SERVICE_NAMES))
    with kolot_dev_up(
        tmp_path, fake_service, "--demo", "--data-dir", "data", "--base-port", str(base),
        "--namespace", "tdemo",
    ) as up:  # fmt: skip
        banner = read_until(up, "Ctrl-C stops everything.")
        assert f"intake      http://127.0.0.1:{base}" in banner
        assert f"metrics     http://127.0.0.1:{base + 3}" in banner
        assert "NATS        nats://127.0.0.1:" in banner
        assert "export KOLOT_TOKEN=$(" in banner
        assert "intake     | fake service listening on" in banner
        # The stand-in intake has no POST: the demo says so, and the stack stays up.
        demo = read_until(up, "no demo data")
        assert "could not create the demo campaign" in demo
        assert "answered 501" in demo
        assert is_listening(base)

        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0
        assert up.stdout is not None
        rest = up.stdout.read().decode()

    assert rest.index("stopping the services") < rest.index("stopping the servers")
    assert rest.rstrip().endswith("stopped")
    for port in range(base, base + len(SERVICE_NAMES)):
        assert not is_listening(port)
    assert (tmp_path / "data" / "logs" / "intake.log").read_text().startswith("fake service")


def test_servers_command_prints_urls_refuses_a_second_run_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    with reaped(kolot_dev("servers", "--data-dir", "data", cwd=tmp_path)) as first:
        urls = exports(read_until(first, "MONGODB_URL="))
        client: pymongo.MongoClient[dict[str, object]]
        with pymongo.MongoClient(urls["MONGODB_URL"], serverSelectionTimeoutMS=5000) as client:
            assert client.admin.command("ping")["ok"] == 1
        assert is_listening(port_of(urls["NATS_URL"]))

        second = kolot_dev("servers", "--data-dir", "data", cwd=tmp_path)
        out, _ = second.communicate(timeout=30)
        assert second.returncode == 1
        assert "another kolot-dev is running on data" in out.decode()

        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0

    assert not is_listening(port_of(urls["NATS_URL"]))
    assert not is_listening(port_of(urls["MONGODB_URL"]))
    assert (tmp_path / "data" / "nats" / "jetstream").is_dir()
    assert (tmp_path / "data" / "mongo" / "db").is_dir()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_servers_die_with_a_parent_killed_by_sigkill(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from kolot.devstack import LocalStack\n"
            "stack = LocalStack(data_dir=Path(sys.argv[1])).start()\n"
            "print(stack.nats.pid, stack.mongo.pid, flush=True)\n"
            "time.sleep(600)\n",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2
    finally:
        parent.kill()
        parent.wait()
        assert parent.stdout is not None
        parent.stdout.close()

    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"servers {pids} outlived their parent"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (it is its init's to reap).
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()
