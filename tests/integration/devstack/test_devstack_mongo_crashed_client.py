"""A client killed inside a transaction on the embedded MongoDB-wire server loses its writes, and
only those: as on real MongoDB, the others never see them, and later transactions commit.

nx-27017 alone kept such a transaction open for ever: its writes were visible (a metrics consumer
killed mid-batch had its applied-ids recorded without the counts), and every write to that
database afterwards was lost at the server's next restart (found by tests/faults).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pymongo
import pytest

from kolot.devstack import MongoServer

pytestmark = pytest.mark.integration

DIES_IN_A_TRANSACTION = """
import sys, time
import pymongo
client = pymongo.MongoClient(sys.argv[1])
client.probe.applied.insert_one({"_id": "before"})
session = client.start_session()
session.start_transaction()
client.probe.applied.insert_one({"_id": "in-flight"}, session=session)
print("inside", flush=True)
time.sleep(60)
"""


def test_a_client_killed_inside_a_transaction_leaves_nothing_behind(own_mongo: MongoServer) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", DIES_IN_A_TRANSACTION, own_mongo.url], stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    with child.stdout:
        assert child.stdout.readline() == b"inside\n"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(own_mongo.url)
    try:
        assert [d["_id"] for d in client.probe.applied.find()] == ["before"]
        with client.start_session() as session, session.start_transaction():
            client.probe.counts.insert_one({"_id": "after", "n": 1}, session=session)
    finally:
        client.close()

    own_mongo.stop()
    own_mongo.start()
    client = pymongo.MongoClient(own_mongo.url)
    try:
        # what was committed after the crash is durable (it used to nest in the dead transaction)
        assert [d["_id"] for d in client.probe.applied.find()] == ["before"]
        assert [d["_id"] for d in client.probe.counts.find()] == ["after"]
    finally:
        client.close()
