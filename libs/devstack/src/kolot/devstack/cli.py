"""``kolot-dev``: run Kolot locally (``up``), print staff tokens (``token``), or just the servers.

``kolot-dev up`` is what ``make up`` runs: NATS and the MongoDB-wire server on free ports (or the
ones named by ``NATS_URL`` / ``MONGODB_URL``), then the four services, until Ctrl-C or SIGTERM,
which stop the services first and the servers last. ``--replicas moderation=4,notify=2`` runs
several processes of a service, sharing its durable consumers, as Kubernetes runs replicas.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

from kolot.common.auth import Role, issue_staff_token
from kolot.common.settings import DEV_JWT_SECRET
from kolot.devstack import demo
from kolot.devstack._process import DevstackError, bin_dir
from kolot.devstack.stack import (
    DEFAULT_NAMESPACE,
    SERVICE_NAMES,
    LocalStack,
    ServiceGroup,
    replica_name,
)

_NAMESPACE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_REPLICAS = 16
"""More processes than this on one machine is a typo, not a plan."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command: str = args.command
    if command == "token":
        return _token(args)
    if command == "up":
        return _up(args)
    return _servers(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kolot-dev", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="start the servers and the four services")
    up.add_argument("--demo", action="store_true", help="seed a demo consultation once ready")
    _add_data_dir(up)
    up.add_argument(
        "--namespace",
        type=_namespace,
        default=DEFAULT_NAMESPACE,
        help="prefix of subjects, streams and databases (default: %(default)s)",
    )
    up.add_argument(
        "--base-port",
        type=int,
        default=8001,
        help=(
            "intake's port; the other services take the next three, extra replicas the ports "
            "after those (default: 8001)"
        ),
    )
    up.add_argument(
        "--replicas",
        type=replica_counts,
        default={},
        metavar="SERVICE=N[,...]",
        help=(
            "processes per service, e.g. moderation=4,notify=2 (default: one of each; "
            "metrics replicas need MONGODB_URL)"
        ),
    )

    token = commands.add_parser("token", help="print a staff JWT signed with the dev secret")
    token.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[r.value for r in Role],
        help="a role of the token; repeat for several",
    )
    token.add_argument("--subject", default="dev", help="the token's subject (default: dev)")
    token.add_argument(
        "--ttl", type=int, default=12 * 3600, help="lifetime in seconds (default: 12 h)"
    )

    servers = commands.add_parser("servers", help="start only NATS and MongoDB, print their URLs")
    _add_data_dir(servers)
    return parser


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".kolot/data"),
        help="the servers' data and the logs (default: .kolot/data)",
    )


def _namespace(value: str) -> str:
    if not _NAMESPACE.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} does not match {_NAMESPACE.pattern}")
    return value


def replica_counts(value: str) -> dict[str, int]:
    """``moderation=4,metrics=2`` -> ``{"moderation": 4, "metrics": 2}``."""
    counts: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, sep, number = item.partition("=")
        name = name.strip()
        if not sep or name not in SERVICE_NAMES:
            raise argparse.ArgumentTypeError(
                f"{item!r}: give SERVICE=N with SERVICE one of {', '.join(SERVICE_NAMES)}"
            )
        try:
            count = int(number)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: N must be a whole number") from None
        if not 1 <= count <= MAX_REPLICAS:
            raise argparse.ArgumentTypeError(f"{item!r}: N must be between 1 and {MAX_REPLICAS}")
        if name in counts:
            raise argparse.ArgumentTypeError(f"{name} is given twice")
        counts[name] = count
    return counts


def replica_ports(base_port: int, replicas: dict[str, int]) -> dict[str, int]:
    """The four services on ``base_port`` and the next three, extra replicas on the ports after,
    in the order of the services: fixed ports, so a URL printed once stays right."""
    ports = {name: base_port + offset for offset, name in enumerate(SERVICE_NAMES)}
    port = base_port + len(SERVICE_NAMES)
    for name in SERVICE_NAMES:
        for number in range(2, replicas.get(name, 1) + 1):
            ports[replica_name(name, number)] = port
            port += 1
    return ports


def _jwt_secret() -> str:
    return os.environ.get("KOLOT_JWT_SECRET") or DEV_JWT_SECRET


# -- token -------------------------------------------------------------------------------------


def _token(args: argparse.Namespace) -> int:
    roles = list(dict.fromkeys(args.role))
    if args.ttl <= 0:
        print("kolot-dev token: --ttl must be positive", file=sys.stderr)
        return 2
    print(issue_staff_token(_jwt_secret(), roles=roles, subject=args.subject, ttl=args.ttl))
    return 0


# -- up ----------------------------------------------------------------------------------------


def _up(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir.absolute()
    secret = _jwt_secret()
    if args.replicas.get("metrics", 1) > 1 and not os.environ.get("MONGODB_URL"):
        # nx-27017 runs concurrent transactions on one database as nested SQLite savepoints:
        # two metrics processes' transactions interleave and fail (docs/benchmarks.md)
        print(
            "kolot-dev up: more than one metrics replica needs a real MongoDB replica set: "
            "set MONGODB_URL, or run one metrics replica on the embedded store",
            file=sys.stderr,
        )
        return 2
    stack = LocalStack(
        nats_url=os.environ.get("NATS_URL") or None,
        mongo_url=os.environ.get("MONGODB_URL") or None,
        data_dir=data_dir,
    )
    services = ServiceGroup(
        nats_url=stack.nats_url,
        mongo_url=stack.mongo_url,
        namespace=args.namespace,
        ports=replica_ports(args.base_port, args.replicas),
        replicas=args.replicas,
        extra_env={
            # The tokens `kolot-dev token` prints must pass the services' check.
            "KOLOT_JWT_SECRET": secret,
            # Readable lines on the terminal; KOLOT_LOG_JSON=true brings back production's JSON.
            "KOLOT_LOG_JSON": os.environ.get("KOLOT_LOG_JSON", "false"),
        },
        log_dir=data_dir / "logs",
        echo=sys.stdout,
    )
    try:
        with _exclusive(data_dir), _sigterm_interrupts():
            try:
                _say(f"starting NATS and MongoDB (data in {_shown(data_dir)})")
                stack.start()
                _say("starting " + ", ".join(services.urls))
                services.start()
                _say(_banner(stack, services, data_dir, namespace=args.namespace))
                if args.demo:
                    token = issue_staff_token(secret, roles=[Role.ADMIN], subject="kolot-dev-demo")
                    demo.seed(services.urls, token, echo=_say)
                _watch(services)
            except KeyboardInterrupt:
                pass
            finally:
                _ignore_interrupts()
                _say("stopping the services")
                services.stop()
                _say("stopping the servers")
                stack.stop()
    except DevstackError as exc:
        print(f"kolot-dev: {exc}", file=sys.stderr)
        return 1
    _say("stopped")
    return 0


def _banner(stack: LocalStack, services: ServiceGroup, data_dir: Path, *, namespace: str) -> str:
    def row(label: str, value: str) -> str:
        return f"  {label:<12}{value}"

    nats = stack.nats_url + (
        f"  (monitor {stack.nats_monitor_url})" if stack.nats else " (external)"
    )
    mongo = stack.mongo_url + ("" if stack.mongo else " (external)")
    lines = ["", f"Kolot is up (namespace {namespace!r})", row("NATS", nats), row("MongoDB", mongo)]
    lines += [row(name, url) for name, url in services.urls.items()]
    lines += [row("logs", _shown(data_dir / "logs")), ""]
    kolot_dev = _shown(bin_dir() / "kolot-dev")
    intake = services.urls.get("intake", "http://127.0.0.1:8001")
    lines += [
        "A staff token (roles: admin, moderator, analyst, integrator):",
        f"  export KOLOT_TOKEN=$({kolot_dev} token --role admin)",
        f'  curl -H "Authorization: Bearer $KOLOT_TOKEN" {intake}/v1/campaigns',
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def _watch(services: ServiceGroup) -> None:
    """Wait for Ctrl-C; say once when a service dies (the others keep running, as compose does)."""
    reported: set[str] = set()
    while True:
        for name, code in services.exited().items():
            if name not in reported:
                reported.add(name)
                _say(
                    f"{name} exited with code {code}; its log: {_shown(services[name].log_file)}. "
                    "The rest keeps running; Ctrl-C stops everything."
                )
        time.sleep(1.0)


# -- servers -----------------------------------------------------------------------------------


def _servers(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir.absolute()
    stack = LocalStack(data_dir=data_dir)
    try:
        with _exclusive(data_dir), _sigterm_interrupts():
            try:
                stack.start()
                _say(
                    f"export NATS_URL={stack.nats_url}\n"
                    f"export MONGODB_URL={stack.mongo_url}\n"
                    f"# NATS monitoring: {stack.nats_monitor_url}; data in {_shown(data_dir)}\n"
                    "# Ctrl-C stops both."
                )
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
            finally:
                _ignore_interrupts()
                stack.stop()
    except DevstackError as exc:
        print(f"kolot-dev: {exc}", file=sys.stderr)
        return 1
    return 0


# -- plumbing ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """One kolot-dev per data directory: two servers on the same files would corrupt them."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "kolot-dev.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DevstackError(
                f"another kolot-dev is running on {_shown(data_dir)}; stop it, or pass --data-dir"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (docker stop, kill) ends the stack the same orderly way as Ctrl-C."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _ignore_interrupts() -> None:
    # A second Ctrl-C must not cut the shutdown short and leave a server running.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _shown(path: Path | None) -> str:
    """A path relative to the working directory when it is inside it."""
    if path is None:
        return "-"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _say(message: str) -> None:
    print(message, flush=True)
