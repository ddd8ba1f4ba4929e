"""The local stack: the two servers (or external ones), and the four services as child processes.

``make up`` and the end-to-end tests both use it: the services are started exactly as in
production (``kolot-<name>`` with settings from the environment), with development secrets.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Self, TextIO

import httpx

from kolot.common.settings import development_environment
from kolot.devstack._process import (
    ChildProcess,
    DevstackError,
    bin_dir,
    ensure_port_free,
    format_tail,
    free_port,
    tail_lines,
)
from kolot.devstack.servers import MongoServer, NatsServer

__all__ = [
    "DEFAULT_PORTS",
    "SERVICE_NAMES",
    "LocalStack",
    "ServiceGroup",
    "ServiceProcess",
]

SERVICE_NAMES: Final = ("intake", "moderation", "notify", "metrics")
DEFAULT_PORTS: Final[Mapping[str, int]] = {
    "intake": 8001,
    "moderation": 8002,
    "notify": 8003,
    "metrics": 8004,
}
DEFAULT_NAMESPACE: Final = "kolot"

_HOST = "127.0.0.1"
_PREFIX_WIDTH = max(len(name) for name in SERVICE_NAMES)
_COLOURS = ("\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[32m", "\x1b[34m", "\x1b[31m")
_RESET = "\x1b[0m"
# Lines of different services must not interleave mid-line on the shared terminal.
_echo_lock = threading.Lock()


class LocalStack:
    """NATS with JetStream and a MongoDB-wire server, started here or given by URL.

    With ``nats_url`` or ``mongo_url`` given, that server is used as it is and nothing is started
    for it. ``data_dir`` keeps the data of the servers started here (``nats/`` and ``mongo/``
    inside it) across runs; without it they live in temporary directories removed by ``stop``.
    """

    def __init__(
        self,
        *,
        nats_url: str | None = None,
        mongo_url: str | None = None,
        data_dir: Path | None = None,
        mongo_in_memory: bool = False,
        ready_timeout: float = 20.0,
    ) -> None:
        self.nats: NatsServer | None = None
        self.mongo: MongoServer | None = None
        if nats_url is None:
            self.nats = NatsServer(
                data_dir=data_dir / "nats" if data_dir is not None else None,
                ready_timeout=ready_timeout,
            )
        if mongo_url is None:
            self.mongo = MongoServer(
                data_dir=data_dir / "mongo" if data_dir is not None else None,
                in_memory=mongo_in_memory,
                ready_timeout=ready_timeout,
            )
        self._nats_url = nats_url
        self._mongo_url = mongo_url

    @property
    def nats_url(self) -> str:
        return self.nats.url if self.nats is not None else str(self._nats_url)

    @property
    def mongo_url(self) -> str:
        return self.mongo.url if self.mongo is not None else str(self._mongo_url)

    @property
    def nats_monitor_url(self) -> str | None:
        """The monitoring endpoint of the NATS server started here (None for an external one)."""
        return self.nats.monitor_url if self.nats is not None else None

    def start(self) -> Self:
        try:
            if self.nats is not None:
                self.nats.start()
            if self.mongo is not None:
                self.mongo.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the servers started here; temporary data directories are removed."""
        for server in (self.mongo, self.nats):
            if server is not None:
                server.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServiceProcess:
    """One service as a child process, ready once ``GET /readyz`` answers 200.

    Its output goes to ``log_file``, or line by line to ``echo`` behind a ``name | `` prefix, or
    both. A failed start raises :class:`DevstackError` with the last lines of that output.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str | os.PathLike[str]],
        *,
        port: int,
        env: Mapping[str, str] | None = None,
        host: str = _HOST,
        log_file: Path | None = None,
        echo: TextIO | None = None,
        colour: str = "",
        prefix_width: int = _PREFIX_WIDTH,
        ready_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        if log_file is None and echo is None:
            raise ValueError(f"{name}: give a log_file, an echo stream, or both")
        self.name = name
        self.port = port
        self.host = host
        self.log_file = log_file
        self.echo = echo
        self.ready_timeout = ready_timeout
        self._prefix = f"{colour}{name:<{prefix_width}} |{_RESET if colour else ''} "
        self._child = ChildProcess(name, command, env=env, stop_timeout=stop_timeout)
        self._recent: deque[str] = deque(maxlen=30)
        self._pump: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def command(self) -> list[str]:
        return self._child.command

    @property
    def env(self) -> dict[str, str] | None:
        return self._child.env

    @property
    def running(self) -> bool:
        return self._child.running

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child.running else None

    @property
    def returncode(self) -> int | None:
        return self._child.returncode

    def start(self) -> Self:
        """Spawn the process (without waiting for it to be ready)."""
        if self.running:
            return self
        # Else a server already on this port (an earlier stack?) would answer our readiness probe.
        ensure_port_free(self.port, host=self.host, what=self.name)
        self._recent.clear()
        if self.echo is None:
            self._child.spawn(log_file=self.log_file)
        else:
            log: IO[bytes] | None = None
            if self.log_file is not None:
                self.log_file.parent.mkdir(parents=True, exist_ok=True)
                log = self.log_file.open("ab")
            try:
                self._child.spawn(log_file=None)
            except BaseException:
                if log is not None:
                    log.close()
                raise
            stdout = self._child.stdout
            assert stdout is not None
            self._pump = threading.Thread(
                target=self._copy_output,
                args=(stdout, log),
                name=f"{self.name}-output",
                daemon=True,
            )
            self._pump.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> Self:
        """Poll ``/readyz`` until 200; stop the process and raise if it dies or times out."""
        _wait_until_ready([self], timeout=timeout)
        return self

    def _check_ready(self, http: httpx.Client, *, deadline: float, limit: float) -> bool:
        """One readiness probe: True when ready; stops the process and raises when it failed."""
        if not self.running:
            code = self.returncode
            self.stop()
            raise DevstackError(
                f"{self.name} exited with code {code} before it was ready; " + self.output_tail()
            )
        try:
            if http.get(f"{self.url}/readyz").status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            self.stop()
            raise DevstackError(
                f"{self.name} did not answer 200 on {self.url}/readyz within {limit:g} s; "
                + self.output_tail()
            )
        return False

    def terminate(self) -> None:
        """Send SIGTERM and return at once (``stop`` waits)."""
        self._child.terminate()

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM, then SIGKILL after the grace period; returns the exit code."""
        code = self._child.stop(timeout)
        if self._pump is not None:
            # The pipe ends when the process group is gone; let the last lines through first.
            self._pump.join(timeout=5.0)
            if not self._pump.is_alive():
                self._child.close_pipe()
            self._pump = None
        return code

    def kill(self) -> int | None:
        """SIGKILL, as a crash would: no graceful shutdown, nothing in flight acked."""
        self._child.kill()
        return self.stop()

    def restart(self) -> Self:
        """Stop, start again on the same port, and wait until ready."""
        self.stop()
        return self.start().wait_ready()

    def recent_output(self, count: int = 30) -> list[str]:
        """The last lines the process wrote."""
        if self.echo is None and self.log_file is not None:
            return tail_lines(self.log_file, count)
        return list(self._recent)[-count:]

    def output_tail(self, count: int = 30) -> str:
        source = f"{self.name}'s output" if self.log_file is None else str(self.log_file)
        return format_tail(self.recent_output(count), source=source)

    def _copy_output(self, stdout: IO[bytes], log: IO[bytes] | None) -> None:
        try:
            for raw in iter(stdout.readline, b""):
                if log is not None:
                    log.write(raw)
                    log.flush()
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self._recent.append(line)
                self._write_echo(line)
        except (OSError, ValueError):  # the pipe was closed under us by stop()
            pass
        finally:
            if log is not None:
                log.close()

    def _write_echo(self, line: str) -> None:
        echo = self.echo
        if echo is None:
            return
        with _echo_lock:
            try:
                echo.write(f"{self._prefix}{line}\n")
                echo.flush()
            except (OSError, ValueError):  # the terminal went away; keep draining the pipe
                pass

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<ServiceProcess {self.name} {self.url} {state}>"


class ServiceGroup:
    """The Kolot services (all four by default) as child processes against one NATS and MongoDB.

    Each gets ``NATS_URL``, ``MONGODB_URL``, ``KOLOT_HTTP_HOST``, ``KOLOT_HTTP_PORT``,
    ``KOLOT_NAMESPACE``, the development secrets and ``KOLOT_WEBHOOK_ALLOWED_HOSTS``, then
    ``extra_env``. ``commands`` replaces the ``kolot-<name>`` console script of a service (tests
    use it to run a stand-in). Output goes to ``log_dir/<name>.log``, to ``echo`` with a coloured
    prefix, or both.

    ``replicas`` runs several processes of a service (``{"moderation": 4}``), as Kubernetes runs
    a Deployment's replicas: the first keeps the service's name and port, the others are named
    ``moderation-2``, ``moderation-3``... with the port ``ports`` gives that name, else a free
    one. They share everything else, so a consumer's replicas share its durable JetStream
    consumer and split the work between them.
    """

    def __init__(
        self,
        *,
        nats_url: str,
        mongo_url: str,
        namespace: str = DEFAULT_NAMESPACE,
        services: Sequence[str] = SERVICE_NAMES,
        ports: Mapping[str, int] | None = None,
        replicas: Mapping[str, int] | None = None,
        commands: Mapping[str, Sequence[str | os.PathLike[str]]] | None = None,
        extra_env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        echo: TextIO | None = None,
        ready_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        if not services:
            raise ValueError("a service group needs at least one service")
        ports = {**DEFAULT_PORTS, **(ports or {})}
        commands = commands or {}
        replicas = dict(replicas or {})
        unknown = sorted(set(replicas) - set(services))
        if unknown:
            raise ValueError(f"replicas given for services not in the group: {', '.join(unknown)}")
        for name, count in replicas.items():
            if count < 1:
                raise ValueError(f"{name} needs at least one replica, not {count}")
        colours = _use_colour(echo)
        self.namespace = namespace
        self._services: dict[str, ServiceProcess] = {}
        self._replicas: dict[str, list[str]] = {}
        instances = [
            (service, replica_name(service, number))
            for service in services
            for number in range(1, replicas.get(service, 1) + 1)
        ]
        width = max(len(instance) for _, instance in instances)
        for index, (service, name) in enumerate(instances):
            if name in ports:
                port = ports[name]
            elif name == service:
                raise ValueError(f"no port given for service {name!r}")
            else:
                port = free_port()
            self._replicas.setdefault(service, []).append(name)
            env = {
                **os.environ,
                **development_environment(),
                "NATS_URL": nats_url,
                "MONGODB_URL": mongo_url,
                "KOLOT_HTTP_HOST": _HOST,
                "KOLOT_HTTP_PORT": str(port),
                "KOLOT_NAMESPACE": namespace,
                "KOLOT_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost",
                # Lines reach the log (and the terminal) as they are written, not per 8 KiB.
                "PYTHONUNBUFFERED": "1",
                **(extra_env or {}),
            }
            self._services[name] = ServiceProcess(
                name,
                commands.get(service) or [str(bin_dir() / f"kolot-{service}")],
                port=port,
                env=env,
                log_file=log_dir / f"{name}.log" if log_dir is not None else None,
                echo=echo,
                colour=_COLOURS[index % len(_COLOURS)] if colours else "",
                prefix_width=width,
                ready_timeout=ready_timeout,
                stop_timeout=stop_timeout,
            )

    def __getitem__(self, name: str) -> ServiceProcess:
        return self._services[name]

    def __iter__(self) -> Iterator[ServiceProcess]:
        return iter(self._services.values())

    @property
    def urls(self) -> dict[str, str]:
        """``{"intake": "http://127.0.0.1:8001", ...}``, replicas under their own names."""
        return {name: service.url for name, service in self._services.items()}

    def replicas(self, service: str) -> list[ServiceProcess]:
        """Every process of one service, the first (named as the service) first."""
        return [self._services[name] for name in self._replicas[service]]

    def start(self) -> Self:
        """Start every service, then wait until all are ready; on failure stop them all."""
        try:
            for service in self:
                service.start()
            _wait_until_ready(list(self))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM to every service at once, then wait for each (SIGKILL after the grace)."""
        for service in self:
            service.terminate()
        for service in self:
            service.stop()

    def restart(self, name: str) -> ServiceProcess:
        """Stop one process (``metrics``, ``metrics-2``...) and start it again on the same port;
        returns it once ready."""
        return self._services[name].restart()

    def exited(self) -> dict[str, int]:
        """The services whose process has ended, with their exit codes."""
        return {
            name: code
            for name, service in self._services.items()
            if (code := service.returncode) is not None
        }

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def replica_name(service: str, number: int) -> str:
    """``moderation`` for the first replica, ``moderation-2`` for the second..."""
    return service if number == 1 else f"{service}-{number}"


def _wait_until_ready(services: Sequence[ServiceProcess], *, timeout: float | None = None) -> None:
    """Probe all services side by side; report every one that failed, not only the first."""
    started = time.monotonic()
    pending = list(services)
    failures: list[str] = []
    with httpx.Client(trust_env=False, timeout=2.0) as http:
        while pending:
            for service in list(pending):
                limit = service.ready_timeout if timeout is None else timeout
                try:
                    done = service._check_ready(http, deadline=started + limit, limit=limit)
                except DevstackError as exc:
                    failures.append(str(exc))
                    done = True
                if done:
                    pending.remove(service)
            if pending:
                time.sleep(0.1)
    if failures:
        raise DevstackError("\n".join(failures))


def _use_colour(stream: TextIO | None) -> bool:
    if stream is None or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
