"""nx-27017 as the devstack runs it: a client that dies inside a transaction has it rolled back.

nx-27017 (0.8) keeps a transaction open until its client commits, aborts or ends the session. A
client killed inside one (kill -9, the OOM killer) does none of these: its uncommitted writes stay
visible to everyone (a consumer's applied-ids without the effect they stood for), later
transactions on that database nest inside it, and nothing written to the database from then on
is ever committed, so a restart of the server loses all of it. Real MongoDB aborts the
transaction of a dead client and never shows its writes. Here, once every connection that carried
a session has closed, its open transactions are rolled back, as a crashed client's would be
(found by tests/faults: kill -9 of metrics mid-batch lost counts).

Run as ``python -m kolot.devstack._nx`` with nx-27017's own arguments.

``KOLOT_NX_PROFILE=<folder>`` also records where the server's time goes, for benchmarks: every
15 s it writes ``shapes.json`` there, the CPU and wall time per command shape (command, database,
collection, the filter's and update's field names and operators, never their values), and with
``KOLOT_NX_CPROFILE=1`` one cProfile file per worker thread (``nx-<thread>.pstats``; read them
together with ``python -m pstats``). Profiling slows the server; never set it in production.
"""

from __future__ import annotations

import cProfile
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from nx_27017 import handler as nx_handler
from nx_27017.nx_27017 import main

log = logging.getLogger("nx_27017")


def _body_of(msg: dict[str, Any]) -> dict[str, Any]:
    """The command document of a wire message ({} when it has none)."""
    for kind, section in msg.get("sections", ()):
        if kind == "body" and isinstance(section, dict):
            return section
    return {}


def _session_of(msg: dict[str, Any]) -> str | None:
    lsid = _body_of(msg).get("lsid")
    if not lsid:
        return None
    session: str | None = nx_handler._extract_session_id(lsid)
    return session


def install(cls: Any = nx_handler.NeoSQLiteHandler) -> None:
    """Track which connections carried each session; roll back a session's open transactions
    when the last of them closes."""
    lock = threading.Lock()
    by_connection: dict[str, set[str]] = {}
    by_session: dict[str, set[str]] = {}
    handle_command, handle_insert = cls.handle_command, cls.handle_insert
    close_streams = cls.close_streams_for_connection

    def note(msg: dict[str, Any]) -> None:
        connection, session = msg.get("_conn_id"), _session_of(msg)
        if connection and session:
            with lock:
                by_connection.setdefault(connection, set()).add(session)
                by_session.setdefault(session, set()).add(connection)

    def noting_command(self: Any, msg: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        note(msg)
        return handle_command(self, msg, *args, **kwargs)

    def noting_insert(self: Any, msg: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        note(msg)
        return handle_insert(self, msg, *args, **kwargs)

    def closing(self: Any, conn_id: Any) -> None:
        try:
            close_streams(self, conn_id)
        finally:
            orphans = []
            with lock:
                for session in by_connection.pop(conn_id, set()):
                    carriers = by_session.get(session, set())
                    carriers.discard(conn_id)
                    if not carriers:
                        by_session.pop(session, None)
                        orphans.append(session)
            for session in orphans:
                _roll_back(self, session)

    cls.handle_command = noting_command
    cls.handle_insert = noting_insert
    cls.close_streams_for_connection = closing


def _roll_back(handler: Any, session_id: str) -> None:
    with handler._sessions_lock:
        open_ones = [
            (key, session)
            for key, session in handler._sessions.items()
            if key[0] == session_id and session.in_transaction
        ]
    for key, session in open_ones:
        try:
            with handler._lock_for(key[1]):
                if session.in_transaction:
                    session.abort_transaction()
            log.warning("rolled back the open transaction of a client that went away (%s)", key)
        except Exception:
            log.exception("could not roll back the transaction of session %s", key)
        with handler._sessions_lock:
            handler._sessions.pop(key, None)


_WRITES = ("insert", "update", "delete")


def batch_writes(cls: Any = nx_handler.NeoSQLiteHandler) -> None:
    """Run each write command outside a client transaction as one SQLite transaction.

    nx-27017 keeps its SQLite connections in autocommit mode, so a bulk write of 256 documents
    was 256 SQLite transactions, each appending its own table and index pages to the WAL. One
    transaction per command writes each page once. The command is still not atomic the way
    Kolot relies on (a document that fails, a duplicate key, fails alone, as on MongoDB: SQLite
    undoes only the failing statement), and what a command wrote is committed even when a later
    part of it raises, as before. Commands inside a client's transaction are left alone: it has
    its own SQLite transaction, which this one must never wrap.
    """
    handle_command, handle_insert = cls.handle_command, cls.handle_insert

    def batched(original: Any, always: bool) -> Any:
        def call(self: Any, msg: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            body = _body_of(msg)
            if "txnNumber" in body or not (always or any(k in body for k in _WRITES)):
                return original(self, msg, *args, **kwargs)
            name = nx_handler._msg_db_name(msg)
            with self._lock_for(name):  # the handler's own lock (re-entrant): no interleaving
                connection = self.get_database(name).db
                if connection.in_transaction:
                    return original(self, msg, *args, **kwargs)
                connection.execute("BEGIN")
                try:
                    return original(self, msg, *args, **kwargs)
                finally:
                    if connection.in_transaction:
                        connection.commit()

        return call

    cls.handle_command = batched(handle_command, always=False)
    cls.handle_insert = batched(handle_insert, always=True)


MMAP = "mmap_size=2147483648"
"""SQLite files memory-mapped: what ``bench/store_shapes.py --mmap`` compares with nx-27017's own
setting (pages read through ``pread`` into a 2 MB cache). Over 300,000 comments written as a
consumer does it halved the bytes the server read but saved only 2% of its CPU, and the mapped
pages would count in the server's resident size, so it is not the default: set
``KOLOT_NX_PRAGMAS`` to it (or to any ``name=value;...``) to try it."""


def tune(cls: Any = nx_handler.NeoSQLiteHandler, pragmas: str = "") -> None:
    """Run ``pragmas`` (``name=value;...``) on every SQLite connection the server opens."""
    statements = [f"PRAGMA {p.strip()}" for p in pragmas.split(";") if p.strip()]
    open_db_conn = cls._open_db_conn

    def opening(self: Any, db_name: str) -> Any:
        conn = open_db_conn(self, db_name)
        for statement in statements:
            conn.db.execute(statement)
        return conn

    cls._open_db_conn = opening


def _shape(value: Any, depth: int = 0) -> Any:
    """A filter's or update's structure without its values: field names and operators."""
    if isinstance(value, dict):
        if depth > 3:
            return "{...}"
        return {key: _shape(inner, depth + 1) for key, inner in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(value[0], depth + 1), len(value)] if value else []
    return type(value).__name__


def _command_shape(msg: dict[str, Any]) -> str:
    body = _body_of(msg)
    payload: list[Any] = []
    for kind, section in msg.get("sections", ()):
        if kind in ("payload", "payload_docs"):
            items = section.values() if isinstance(section, dict) else [section]
            for item in items:
                payload.extend(item if isinstance(item, list) else [item])
    name = next(iter(body), "?")
    parts: dict[str, Any] = {"cmd": name, "db": body.get("$db"), "coll": body.get(name)}
    if "lsid" in body and body.get("txnNumber") is not None:
        parts["tx"] = True
    for key in ("filter", "sort", "pipeline", "query", "update"):
        if key in body:
            parts[key] = _shape(body[key])
    ops = body.get("updates") or body.get("deletes") or (payload if name != "insert" else [])
    if ops:
        first = ops[0]
        parts["ops"] = len(ops)
        parts["q"] = _shape(first.get("q")) if isinstance(first, dict) else None
        parts["u"] = _shape(first.get("u")) if isinstance(first, dict) else None
        parts["upsert"] = bool(isinstance(first, dict) and first.get("upsert"))
    elif name == "insert":
        parts["docs"] = len(body.get("documents") or payload)
    return json.dumps(parts, sort_keys=True, default=str)


def install_profiler(
    folder: Path, with_cprofile: bool, cls: Any = nx_handler.NeoSQLiteHandler
) -> None:
    """Time every command by shape; dump the table (and per-thread cProfiles) every 15 s."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    table: dict[str, list[float]] = {}  # shape -> [calls, cpu s, wall s, max wall s]
    local = threading.local()
    last_dump = [time.monotonic()]

    def dump() -> None:
        with lock:
            rows = sorted(table.items(), key=lambda item: -item[1][1])
            lines = [
                {
                    "shape": json.loads(shape),
                    "calls": int(v[0]),
                    "cpu_s": round(v[1], 3),
                    "wall_s": round(v[2], 3),
                    "max_ms": round(v[3] * 1000, 1),
                }
                for shape, v in rows
            ]
        (folder / "shapes.json").write_text(json.dumps(lines, indent=1, ensure_ascii=False))

    def timed(original: Any) -> Any:
        def call(self: Any, msg: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            profile = getattr(local, "profile", None)
            if with_cprofile and profile is None:
                profile = local.profile = cProfile.Profile()
            cpu, wall = time.thread_time(), time.perf_counter()
            if profile is not None:
                profile.enable()
            try:
                return original(self, msg, *args, **kwargs)
            finally:
                if profile is not None:
                    profile.disable()
                cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
                try:
                    shape = _command_shape(msg)
                except Exception:  # a shape we cannot read is still timed
                    shape = json.dumps({"cmd": "?"})
                with lock:
                    row = table.setdefault(shape, [0, 0.0, 0.0, 0.0])
                    row[0] += 1
                    row[1] += cpu
                    row[2] += wall
                    row[3] = max(row[3], wall)
                now = time.monotonic()
                if profile is not None and now - getattr(local, "dumped", 0.0) > 15:
                    local.dumped = now
                    profile.dump_stats(folder / f"nx-{threading.get_ident()}.pstats")
                if now - last_dump[0] > 15:
                    last_dump[0] = now
                    dump()

        return call

    cls.handle_command = timed(cls.handle_command)
    cls.handle_insert = timed(cls.handle_insert)


if __name__ == "__main__":
    install()
    if os.environ.get("KOLOT_NX_BATCH", "1") != "0":
        batch_writes()
    if pragmas := os.environ.get("KOLOT_NX_PRAGMAS"):
        tune(pragmas=pragmas)
    if profile_folder := os.environ.get("KOLOT_NX_PROFILE"):
        install_profiler(Path(profile_folder), os.environ.get("KOLOT_NX_CPROFILE") == "1")
    sys.exit(main())
