"""Child processes that never outlive the devstack: spawning, stopping, log tails.

Every child runs in its own session, so a Ctrl-C in the terminal reaches only ``kolot-dev``, which
then stops the services before the servers. On Linux the kernel also sends the child SIGTERM when
its parent dies (``PR_SET_PDEATHSIG``), so nothing leaks even if the parent is killed with
SIGKILL; an ``atexit`` hook covers ordinary interpreter exits everywhere else.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


class DevstackError(RuntimeError):
    """A server or service of the local stack did not start, or cannot be found."""


def bin_dir() -> Path:
    """The directory of the running interpreter, where the venv's console scripts live.

    Not resolved: a venv's ``python`` is a symlink to the base interpreter, and the scripts sit
    next to the link.
    """
    return Path(sys.executable).parent


def find_executable(name: str, *, hint: str) -> Path:
    """The executable ``name`` next to the venv's python, else on ``PATH``."""
    candidate = bin_dir() / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise DevstackError(f"cannot find {name!r} next to {sys.executable} nor on PATH ({hint})")


_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    The OS picks it from the ephemeral range, so it never is a well-known port such as 4222.
    A port is handed out once per process: servers get their ports long before they bind them,
    and two of them must not be given the same one meanwhile.
    """
    with _handed_out_lock:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port: int = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port


def ensure_port_free(port: int, *, host: str = "127.0.0.1", what: str) -> None:
    """Refuse to start ``what`` on a port someone else holds, rather than probe their server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The same option the servers use, so a port in TIME_WAIT after a restart counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            message = f"cannot start {what}: port {host}:{port} is in use ({exc})"
            raise DevstackError(message) from exc


def tail_lines(path: Path, count: int = 30) -> list[str]:
    """The last ``count`` lines of a text file (empty if the file does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except FileNotFoundError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-count:]


def format_tail(lines: Sequence[str], *, source: str) -> str:
    if not lines:
        return f"({source} is empty)"
    body = "\n".join(f"    {line}" for line in lines)
    return f"last lines of {source}:\n{body}"


def _load_prctl() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl: Callable[[int, int], int] = libc.prctl
    except (OSError, AttributeError):
        return None
    return prctl


# Resolved once in the parent: the code that runs between fork and exec must not load libraries.
_prctl = _load_prctl()


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    if _prctl is None:
        return None
    prctl = _prctl

    def preexec() -> None:
        # Caveat of PR_SET_PDEATHSIG: it fires when the *thread* that forked exits. The devstack
        # spawns from the main thread (CLI, pytest fixtures), which lives as long as the process.
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


_live: set[ChildProcess] = set()
_live_lock = threading.Lock()


class ChildProcess:
    """One child process in its own session; stopped by SIGTERM to its group, then SIGKILL."""

    def __init__(
        self,
        name: str,
        command: Sequence[str | os.PathLike[str]],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.command = [os.fspath(part) for part in command]
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self._popen: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._terminating = False

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def stdout(self) -> IO[bytes] | None:
        """The pipe of the child's output when it was spawned with ``log_file=None``."""
        return self._popen.stdout if self._popen is not None else None

    def spawn(self, *, log_file: Path | None) -> None:
        """Start the child; its stdout and stderr go to ``log_file`` (appended) or to a pipe."""
        if self.running:
            raise DevstackError(f"{self.name} is already running (pid {self.pid})")
        self._close_output()
        stdout: IO[bytes] | int
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            self._output = stdout = log_file.open("ab")
        else:
            stdout = subprocess.PIPE
        try:
            self._popen = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
            )
        except OSError as exc:
            self._close_output()
            raise DevstackError(f"cannot start {self.name} ({self.command[0]}): {exc}") from exc
        self._terminating = False
        with _live_lock:
            _live.add(self)

    def terminate(self) -> None:
        """SIGTERM to the child's process group, without waiting (``stop`` waits)."""
        popen = self._popen
        if popen is not None and popen.poll() is None and not self._terminating:
            self._signal_group(popen, signal.SIGTERM)
            self._terminating = True

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM to the child's process group; SIGKILL after ``timeout`` seconds. Idempotent."""
        popen = self._popen
        if popen is None:
            return None
        grace = self.stop_timeout if timeout is None else timeout
        try:
            if popen.poll() is None:
                self.terminate()
                try:
                    popen.wait(grace)
                except subprocess.TimeoutExpired:
                    self._signal_group(popen, signal.SIGKILL)
                    popen.wait()
            return popen.returncode
        finally:
            self._close_output()
            with _live_lock:
                _live.discard(self)

    def kill(self) -> int | None:
        """SIGKILL to the child's process group at once, as a crash would; returns the exit code."""
        popen = self._popen
        if popen is None:
            return None
        if popen.poll() is None:
            self._signal_group(popen, signal.SIGKILL)
        return self.stop()

    def close_pipe(self) -> None:
        """Close our end of the output pipe, once whoever reads it has seen its end."""
        if self._popen is not None and self._popen.stdout is not None:
            self._popen.stdout.close()

    @staticmethod
    def _signal_group(popen: subprocess.Popen[bytes], signum: int) -> None:
        # Only while the child is unreaped: its pid (= its group id) cannot have been reused.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signum)

    def _close_output(self) -> None:
        if self._output is not None:
            self._output.close()
            self._output = None


@atexit.register
def _stop_leftovers() -> None:
    with _live_lock:
        leftovers = list(_live)
    for child in leftovers:
        child.stop(timeout=3.0)
