"""The form-letter index keeps a bounded number of clusters, forgetting the least recently
matched ones first (each costs some 4 KiB: a national consultation has a million texts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kolot.moderation.clusters import Candidate, Clusterer


class Store:
    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []

    async def clusters(self, campaign_id: str, *, after: int, limit: int) -> list[dict[str, Any]]:
        return []

    async def add_clusters(self, clusters: Sequence[dict[str, Any]]) -> None:
        self.docs.extend(clusters)


def letter(n: int) -> str:
    return f"letter number {n} asks the ministry to keep the night buses running in the south {n}"


async def test_the_index_forgets_the_least_recently_matched_clusters_beyond_its_bound() -> None:
    clusterer = Clusterer(Store(), max_indexed=3)
    first = await clusterer.assign([("c1", Candidate(f"k{n}", letter(n))) for n in range(3)])
    assert all(a.new for a in first.values())
    # k0 is matched again (a copy), so k1 is now the least recently matched
    again = await clusterer.assign([("c1", Candidate("copy0", letter(0)))])
    assert (again["copy0"].cluster_id, again["copy0"].new) == ("k0", False)
    await clusterer.assign([("c1", Candidate("k3", letter(3)))])  # over the bound: k1 goes

    late = await clusterer.assign(
        [("c1", Candidate("copy1", letter(1))), ("c1", Candidate("copy0b", letter(0)))]
    )
    assert late["copy1"].new  # k1 was forgotten: its copy starts a cluster of its own
    assert late["copy0b"].cluster_id == "k0"  # k0 was kept
