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
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from nx_27017 import handler as nx_handler
from nx_27017.nx_27017 import main

log = logging.getLogger("nx_27017")


def _session_of(msg: dict[str, Any]) -> str | None:
    for kind, section in msg.get("sections", ()):
        if kind == "body" and isinstance(section, dict) and section.get("lsid"):
            session: str | None = nx_handler._extract_session_id(section["lsid"])
            return session
    return None


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


if __name__ == "__main__":
    install()
    sys.exit(main())
