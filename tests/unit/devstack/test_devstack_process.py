import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from kolot.devstack import DevstackError, free_port
from kolot.devstack._process import ChildProcess, ensure_port_free, tail_lines


def test_free_port_can_be_bound_on_loopback() -> None:
    port = free_port()

    assert port != 4222, "the system NATS is never ours"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_free_port_never_hands_out_a_port_twice() -> None:
    ports = [free_port() for _ in range(200)]

    assert len(set(ports)) == len(ports)


def test_a_port_in_use_is_refused_with_its_number() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]

        with pytest.raises(DevstackError, match=f"127.0.0.1:{port} is in use"):
            ensure_port_free(port, what="nats-server")


def test_tail_lines_gives_the_end_of_a_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))

    assert tail_lines(log, 3) == ["line 97", "line 98", "line 99"]
    assert tail_lines(tmp_path / "missing.log") == []


_namespaces_seen: set[str] = set()


@pytest.mark.parametrize("run", range(3))
def test_namespace_fixture_is_valid_for_services_and_fresh_per_test(
    namespace: str, run: int
) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9_]{0,31}", namespace)
    assert namespace not in _namespaces_seen
    _namespaces_seen.add(namespace)


def test_kill_ends_a_child_at_once_even_if_it_ignores_sigterm(tmp_path: Path) -> None:
    ignores_term = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    )
    child = ChildProcess("stubborn", [sys.executable, "-c", ignores_term], stop_timeout=30.0)
    child.spawn(log_file=tmp_path / "stubborn.log")
    started = time.monotonic()

    code = child.kill()

    assert code == -signal.SIGKILL
    assert not child.running
    assert time.monotonic() - started < 5.0, "SIGKILL must not wait for the SIGTERM grace period"
