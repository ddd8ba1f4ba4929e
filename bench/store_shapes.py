"""The embedded store's query shapes: which run in SQL and which read every document in Python.

nx-27017 (the MongoDB-wire server of ``make up`` and the tests) runs some query shapes in SQL over
its indexes and others in Python over every matching document. Kolot's hot queries use the fast
shapes (docs/embedded-store.md, "Where its time goes"); this benchmark measures each pair in the
same run, so that an upgrade of nx-27017 can be checked against them. It starts its own server
(devstack) on a free port and a temporary folder unless --mongo-url is given.

    .venv/bin/python bench/store_shapes.py --documents 60000
    .venv/bin/python bench/store_shapes.py --mmap 300000   # memory-mapped SQLite files or not
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pymongo

from cpu import server_cpu
from kolot.devstack._nx import MMAP
from kolot.devstack.servers import MongoServer

T = TypeVar("T")


def timed(action: Callable[[], Any], repeat: int = 5) -> float:
    """The median of ``repeat`` runs, in milliseconds."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        runs.append((time.perf_counter() - started) * 1000)
    return sorted(runs)[len(runs) // 2]


def fill(collection: pymongo.collection.Collection[dict[str, Any]], documents: int) -> None:
    collection.drop()
    collection.create_index([("cluster_id", 1), ("status", 1)])
    collection.create_index([("status", 1), ("campaign_id", 1), ("held_since", 1)])
    text = "a comment of some length, as people write them " * 16
    for start in range(0, documents, 500):
        collection.insert_many(
            [
                {
                    "_id": f"c{n}",
                    "campaign_id": f"k{n % 5}",
                    "cluster_id": f"cl{n % 4}" if n % 3 == 0 else None,
                    "status": "held" if n % 7 == 0 else "approved" if n % 10 else "pending",
                    "held_since": f"20261124T{n:012d}",
                    "text": text,
                }
                for n in range(start, min(documents, start + 500))
            ]
        )


def measure(url: str, documents: int) -> list[tuple[str, float, str, float]]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url)
    collection = client["kolot_bench_shapes"]["comments"]
    started = time.perf_counter()
    fill(collection, documents)
    print(f"{documents:,} documents written in {time.perf_counter() - started:.1f} s")
    clusters = ["cl0", "cl1", "cl2", "cl3"]

    def members_in() -> None:
        match = {"cluster_id": {"$in": clusters}, "status": "approved"}
        list(
            collection.aggregate(
                [{"$match": match}, {"$group": {"_id": "$cluster_id", "n": {"$sum": 1}}}]
            )
        )

    def members_each() -> None:
        for cluster in clusters:
            match = {"cluster_id": cluster, "status": "approved"}
            list(collection.aggregate([{"$match": match}, {"$count": "n"}]))

    def held_read() -> None:
        list(collection.find({"status": "held"}, {"campaign_id": 1, "held_since": 1}))

    def held_grouped() -> None:
        group = {"_id": "$campaign_id", "n": {"$sum": 1}, "oldest": {"$min": "$held_since"}}
        list(collection.aggregate([{"$match": {"status": "held"}}, {"$group": group}]))

    def oldest_sorted() -> None:
        query = {"status": "held", "campaign_id": "k3"}
        list(collection.find(query, {"held_since": 1}).sort("held_since", 1).limit(1))

    def oldest_grouped() -> None:
        match = {"status": "held", "campaign_id": "k3"}
        group = {"_id": None, "oldest": {"$min": "$held_since"}}
        list(collection.aggregate([{"$match": match}, {"$group": group}]))

    def count_documents() -> None:
        collection.count_documents({"status": "pending"})

    def count_pipeline() -> None:
        list(collection.aggregate([{"$match": {"status": "pending"}}, {"$count": "n"}]))

    pairs = [
        (
            "cluster members: $in + $group",
            members_in,
            "an equality $count per cluster",
            members_each,
        ),
        ("held queue: find every held", held_read, "$group with $sum and $min", held_grouped),
        ("oldest held: sort + limit 1", oldest_sorted, "$group with $min", oldest_grouped),
        ("count_documents", count_documents, "$match + $count", count_pipeline),
    ]
    rows = [
        (slow_name, timed(slow), fast_name, timed(fast))
        for slow_name, slow, fast_name, fast in pairs
    ]
    client.drop_database("kolot_bench_shapes")
    client.close()
    return rows


def write_costs(url: str, documents: int) -> tuple[float, float]:
    """Microseconds per document of 256-document inserts and of 256-update bulk writes."""
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url)
    collection = client["kolot_bench_writes"]["comments"]
    collection.drop()
    collection.create_index([("status", 1), ("campaign_id", 1)])
    collection.create_index([("cluster_id", 1), ("status", 1)])
    text = "a comment of some length, as people write them " * 8
    inserting = updating = 0.0
    for start in range(0, documents, 256):
        ids = [f"c{n}" for n in range(start, min(documents, start + 256))]
        began = time.perf_counter()
        collection.insert_many(
            [
                {"_id": i, "campaign_id": "k", "cluster_id": None, "status": "new", "text": text}
                for i in ids
            ]
        )
        inserting += time.perf_counter() - began
        began = time.perf_counter()
        collection.bulk_write(
            [pymongo.UpdateOne({"_id": i}, {"$set": {"status": "published"}}) for i in ids],
            ordered=False,
        )
        updating += time.perf_counter() - began
    client.drop_database("kolot_bench_writes")
    client.close()
    return inserting / documents * 1e6, updating / documents * 1e6


def with_server(variable: str, value: str, work: Callable[[MongoServer], T]) -> T:
    """``work`` on a fresh devstack nx-27017 started with ``variable=value``."""
    os.environ[variable] = value
    try:
        with tempfile.TemporaryDirectory(prefix="kolot-bench-store-") as folder:
            server = MongoServer(data_dir=Path(folder))
            server.start()
            try:
                return work(server)
            finally:
                server.stop()
    finally:
        os.environ.pop(variable, None)


def batching(documents: int) -> None:
    """The devstack's nx-27017 (one SQLite transaction per write command) against nx-27017's
    own autocommit (one per document), in the same run."""
    found = {
        label: with_server("KOLOT_NX_BATCH", value, lambda s: write_costs(s.url, documents))
        for label, value in (("per document", "0"), ("per command", "1"))
    }
    print(f"\n{'SQLite transaction':<22}{'insert µs/doc':>15}{'update µs/doc':>15}")
    for label, (inserting, updating) in found.items():
        print(f"{label:<22}{inserting:>15.0f}{updating:>15.0f}")
    (slow_insert, slow_update), (fast_insert, fast_update) = found.values()
    print(f"{'ratio':<22}{slow_insert / fast_insert:>14.1f}x{slow_update / fast_update:>14.1f}x")


def _process(server: MongoServer) -> tuple[float, float]:
    """The server's CPU seconds and the bytes it read through system calls, so far."""
    pid = int(server.pid_file.read_text())
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return server_cpu(server.url, MongoServer.process_marker.encode()), float(io["rchar"])


def national_writes(server: MongoServer, documents: int) -> tuple[float, float, float]:
    """A consumer's writes as in a national run (applied ids read then inserted, comments
    upserted under random ids, each updated again a little later), in batches of 100: the
    server's CPU seconds, GiB read, and the wall seconds."""
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(server.url)
    comments, applied = client.kolot_bench_national.comments, client.kolot_bench_national.applied
    comments.create_index([("campaign_id", 1), ("status", 1), ("rank", -1)])
    comments.create_index([("participant_id", 1)])
    text = "a comment of some length, as people write them " * 16
    rng = random.Random(1729)
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(documents)]
    cpu, read = _process(server)
    began = time.perf_counter()
    for start in range(0, documents, 100):
        batch = ids[start : start + 100]
        list(applied.find({"_id": {"$in": batch}}, {"_id": 1}))
        applied.insert_many([{"_id": i, "at": start} for i in batch])
        fields = {"text": text, "campaign_id": f"k{start % 5}", "status": "pending"}
        comments.bulk_write(
            [
                pymongo.UpdateOne(
                    {"_id": i}, {"$set": {**fields, "participant_id": i[::-1], "rank": n}}, True
                )
                for n, i in enumerate(batch)
            ],
            ordered=False,
        )
        decided = ids[max(0, start - 2000) : max(0, start - 1900)]
        if decided:
            comments.bulk_write(
                [pymongo.UpdateOne({"_id": i}, {"$set": {"status": "published"}}) for i in decided],
                ordered=False,
            )
    wall = time.perf_counter() - began
    cpu_after, read_after = _process(server)
    client.close()
    return cpu_after - cpu, (read_after - read) / 2**30, wall


def mapping(documents: int) -> None:
    """nx-27017 with its SQLite files memory-mapped (``_nx.MMAP``) against its own setting,
    pages read through ``pread``, in the same run."""
    found = {
        label: with_server("KOLOT_NX_PRAGMAS", value, lambda s: national_writes(s, documents))
        for label, value in (("read", ""), ("memory-mapped", MMAP))
    }
    print(f"\n{documents:,} comments written as a consumer does")
    print(f"{'SQLite pages':<22}{'server CPU s':>14}{'GiB read':>10}{'wall s':>8}")
    for label, (cpu, read, wall) in found.items():
        print(f"{label:<22}{cpu:>14.1f}{read:>10.2f}{wall:>8.1f}")
    (slow_cpu, slow_read, _), (fast_cpu, fast_read, _) = found.values()
    print(f"{'ratio':<22}{slow_cpu / fast_cpu:>13.2f}x{slow_read / fast_read:>9.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=60_000)
    parser.add_argument("--mongo-url", default=os.environ.get("MONGODB_URL"))
    parser.add_argument(
        "--mmap",
        type=int,
        metavar="COMMENTS",
        help="only compare memory-mapped and read SQLite pages over this many comments",
    )
    args = parser.parse_args()
    if args.mmap:
        mapping(args.mmap)
        return
    if args.mongo_url:
        rows = measure(args.mongo_url, args.documents)
    else:
        with tempfile.TemporaryDirectory(prefix="kolot-bench-shapes-") as folder:
            server = MongoServer(data_dir=Path(folder))
            server.start()
            try:
                rows = measure(server.url, args.documents)
            finally:
                server.stop()
    if not args.mongo_url:
        batching(min(args.documents, 20_000))
    print(f"\n{'shape Kolot avoids':<32}{'ms':>8}   {'shape Kolot uses':<32}{'ms':>8}{'ratio':>8}")
    for slow_name, slow_ms, fast_name, fast_ms in rows:
        print(
            f"{slow_name:<32}{slow_ms:>8.1f}   {fast_name:<32}{fast_ms:>8.1f}"
            f"{slow_ms / fast_ms:>7.1f}x"
        )


if __name__ == "__main__":
    main()
