"""KOLOT_NX_PRAGMAS: the pragmas asked for are run on every SQLite file nx-27017 opens."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from kolot.devstack._nx import MMAP, tune


class Handler:
    """nx-27017's handler as far as ``tune`` knows it: it opens one SQLite file per database."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _open_db_conn(self, db_name: str) -> Any:
        return SimpleNamespace(db=sqlite3.connect(self.folder / f"{db_name}.db"))


def test_every_database_opened_gets_the_pragmas(tmp_path: Path) -> None:
    tune(Handler, f"{MMAP}; cache_size=-4096")
    handler = Handler(tmp_path)

    for name in ("intake", "moderation"):
        db = handler._open_db_conn(name).db
        # SQLite caps it just under 2 GiB (SQLITE_MAX_MMAP_SIZE)
        assert db.execute("PRAGMA mmap_size").fetchone()[0] >= 2**31 - 2**16
        assert db.execute("PRAGMA cache_size").fetchone()[0] == -4096
        db.close()
