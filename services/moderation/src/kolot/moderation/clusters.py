"""Form letters: exact and near-duplicate comments of a campaign grouped into clusters.

Exact copies first (a hash of the matching key, so case, marks and spacing do not matter), then
near copies: MinHash signatures of word 3-shingles (rensa) looked up in an LSH index, each
candidate confirmed by its estimated Jaccard similarity. Only top-level comments of at least
``MIN_WORDS`` words are clustered: "I agree" from many people is agreement, not a form letter.

The index lives in the process, per campaign, and is loaded from the ``clusters`` collection (each
cluster keeps its representative's redacted matching key, from which the signature is computed
again) the first time a campaign is seen, and topped up with clusters other replicas created.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rensa import RMinHash, RMinHashLSH  # type: ignore[import-untyped]

from kolot.common.store import Document

MIN_WORDS = 12
NUM_PERM = 128
NUM_BANDS = 32
SIMILARITY = 0.7
"""Estimated Jaccard similarity of shingles from which two texts are copies of one letter."""
_SEED = 1729
LOOK_EVERY = 5.0
"""Seconds between two looks for clusters other replicas created in a campaign."""
MAX_INDEXED = 20_000
"""Clusters indexed at most in one process, over all campaigns: some 5.5 KiB each once the LSH
tables have grown to their working size (~110 MiB). Every comment that matches no cluster begins
one, so the bound is reached early in a national consultation; form letters, matched again and
again, stay indexed (the least recently matched are forgotten first). 40,000 took moderation's
RSS past 500 MiB at 400,000 comments."""
_WORD = re.compile(r"\w+")


def words_of(key: str) -> list[str]:
    return _WORD.findall(key)


def exact_hash(key: str) -> str:
    return hashlib.sha256(" ".join(words_of(key)).encode()).hexdigest()


def signature(words: list[str]) -> RMinHash:
    shingles = [" ".join(words[i : i + 3]) for i in range(max(len(words) - 2, 1))]
    minhash = RMinHash(num_perm=NUM_PERM, seed=_SEED)
    minhash.update(shingles)
    return minhash


@dataclass(slots=True)
class Candidate:
    """A comment's text as the clusterer sees it."""

    comment_id: str
    key: str
    words: list[str] = field(default_factory=list)
    exact: str = ""


@dataclass(frozen=True, slots=True)
class Assignment:
    comment_id: str
    cluster_id: str
    representative: str
    """The comment that stands for the cluster (the first one seen)."""
    new: bool
    """The comment started this cluster."""
    exact: str


class CampaignIndex:
    """The clusters of one campaign: exact hashes and an LSH index of signatures.

    Bounded: each indexed cluster costs some 5.5 KiB (its signature and its place in the LSH
    bands), so the least recently matched ones are forgotten first (``evict``). A copy of a
    forgotten text starts a cluster of its own, which its later copies join.
    """

    def __init__(self) -> None:
        self._exact: dict[str, tuple[str, str]] = {}
        self._lsh = RMinHashLSH(threshold=SIMILARITY, num_perm=NUM_PERM, num_bands=NUM_BANDS)
        self._slots: dict[int, tuple[str, str, RMinHash, str]] = {}
        """LSH key -> (cluster id, representative, signature, exact hash), least recently
        matched first."""
        self._key_of: dict[str, int] = {}
        self._next_key = 0

    def __len__(self) -> int:
        return len(self._slots)

    def add(self, cluster_id: str, representative: str, exact: str, minhash: RMinHash) -> None:
        if cluster_id in self._key_of:
            return
        key, self._next_key = self._next_key, self._next_key + 1
        self._key_of[cluster_id] = key
        self._exact.setdefault(exact, (cluster_id, representative))
        self._lsh.insert(key, minhash)
        self._slots[key] = (cluster_id, representative, minhash, exact)

    def evict(self) -> None:
        """Forget the least recently matched cluster."""
        key = next(iter(self._slots))
        cluster_id, _, _, exact = self._slots.pop(key)
        self._lsh.remove(key)
        del self._key_of[cluster_id]
        if self._exact.get(exact, ("", ""))[0] == cluster_id:
            del self._exact[exact]

    def _touch(self, cluster_id: str) -> None:
        key = self._key_of.get(cluster_id)
        if key is not None:
            self._slots[key] = self._slots.pop(key)  # most recently matched: forgotten last

    def assign(self, campaign_id: str, candidate: Candidate) -> Assignment:
        words = candidate.words or words_of(candidate.key)
        exact = candidate.exact or exact_hash(candidate.key)
        if exact in self._exact:
            cluster_id, representative = self._exact[exact]
            self._touch(cluster_id)
            return Assignment(candidate.comment_id, cluster_id, representative, False, exact)
        minhash = signature(words)
        best: tuple[float, str, str] | None = None
        for slot in self._lsh.query(minhash):
            cluster_id, representative, other, _ = self._slots[slot]
            similarity = minhash.jaccard(other)
            if similarity >= SIMILARITY and (best is None or similarity > best[0]):
                best = (similarity, cluster_id, representative)
        if best is not None:
            self._touch(best[1])
            return Assignment(candidate.comment_id, best[1], best[2], False, exact)
        # the cluster is named after the comment that started it, which stands for it
        cluster_id = candidate.comment_id
        self.add(cluster_id, candidate.comment_id, exact, minhash)
        return Assignment(candidate.comment_id, cluster_id, candidate.comment_id, True, exact)


def eligible(key: str, *, parent_id: str | None) -> bool:
    return parent_id is None and len(words_of(key)) >= MIN_WORDS


class ClusterStore(Protocol):
    async def clusters(self, campaign_id: str, *, after: int, limit: int) -> list[Document]: ...
    async def add_clusters(self, clusters: Sequence[Document]) -> None: ...


class Clusterer:
    """Assigns the comments of a batch to clusters, per campaign, and stores new clusters."""

    def __init__(
        self,
        store: ClusterStore,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_indexed: int = MAX_INDEXED,
    ) -> None:
        self._store = store
        self._max_indexed = max_indexed
        self._monotonic = monotonic
        self._looked: dict[str, float] = {}
        self._indexes: dict[str, CampaignIndex] = {}
        self._seen: dict[str, int] = {}

    async def _index(self, campaign_id: str) -> CampaignIndex:
        index = self._indexes.setdefault(campaign_id, CampaignIndex())
        now = self._monotonic()
        if now - self._looked.get(campaign_id, float("-inf")) < LOOK_EVERY:
            return index
        self._looked[campaign_id] = now
        # clusters other replicas (or this one before a restart) created since the last look
        seen = self._seen.get(campaign_id, 0)
        for doc in await self._store.clusters(campaign_id, after=seen, limit=self._max_indexed):
            index.add(doc["_id"], doc["representative"], doc["exact"], signature(doc["words"]))
            self._seen[campaign_id] = max(self._seen.get(campaign_id, 0), int(doc["seq"]))
        return index

    def _bound(self) -> None:
        """Keep at most ``max_indexed`` clusters, forgetting from the largest campaign index."""
        while sum(len(index) for index in self._indexes.values()) > self._max_indexed:
            max(self._indexes.values(), key=len).evict()

    async def assign(self, candidates: Sequence[tuple[str, Candidate]]) -> dict[str, Assignment]:
        """``candidates``: (campaign id, candidate) in arrival order; returns by comment id."""
        assigned: dict[str, Assignment] = {}
        new: list[Document] = []
        indexes = {c: await self._index(c) for c in dict.fromkeys(c for c, _ in candidates)}
        seq = time.time_ns()
        for campaign_id, candidate in candidates:
            candidate.words = candidate.words or words_of(candidate.key)
            assignment = indexes[campaign_id].assign(campaign_id, candidate)
            assigned[candidate.comment_id] = assignment
            if assignment.new:
                seq += 1
                new.append(
                    {
                        "_id": assignment.cluster_id,
                        "campaign_id": campaign_id,
                        "representative": candidate.comment_id,
                        "exact": assignment.exact,
                        "words": candidate.words,
                        "seq": seq,
                    }
                )
        self._bound()
        await self._store.add_clusters(new)
        for doc in new:
            campaign_id = doc["campaign_id"]
            self._seen[campaign_id] = max(self._seen.get(campaign_id, 0), doc["seq"])
        return assigned
