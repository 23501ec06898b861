"""Near-duplicates: groups of items whose vectors are at least `threshold` similar (cosine).

Exact, by the blocked batch path of vectrain.classify.knn: blocks of rows times the rows after them (the
upper triangle, so each pair is computed once) as one matrix product each, every pair at or
above the threshold merged by union-find. A group is a connected component: items linked by a
chain of such pairs (single linkage), so a low threshold can chain large groups.

Memory: the vectors, one block of similarities (kept near 128 MB), and the union-find arrays
(O(n)); pairs are merged block by block and never kept. At most MAX_PAIRS pairs: past that the
threshold is too low for duplicates and the run stops with a clear error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vectrain.core.budget import Deadline
from vectrain.core.errors import TooLarge
from vectrain.quality.label_errors import block_rows

Progress = Callable[[int, int], None]
MAX_PAIRS = 5_000_000


@dataclass
class Groups:
    """Groups of positions (each sorted; largest group first), and each position's highest
    similarity to another member of its group."""

    groups: list[np.ndarray]
    similarity: np.ndarray  # [n], -inf outside groups
    pairs: int


class UnionFind:
    def __init__(self, n: int):
        self.parent = np.arange(n, dtype=np.int64)
        self.size = np.ones(n, dtype=np.int64)

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return int(x)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def roots(self) -> np.ndarray:
        return np.asarray([self.find(i) for i in range(len(self.parent))], dtype=np.int64)


def duplicate_groups(
    vectors: np.ndarray,
    threshold: float,
    deadline: Deadline = Deadline.none(),
    progress: Progress | None = None,
    max_pairs: int = MAX_PAIRS,
) -> Groups:
    """Groups of unit `vectors` linked by pairs with cosine similarity >= threshold."""
    n = len(vectors)
    uf = UnionFind(n)
    best = np.full(n, -np.inf, dtype=np.float32)
    block = block_rows(n)
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    pairs = 0
    for start in range(0, n, block):
        deadline.check()
        stop = min(n, start + block)
        sims = data[start:stop] @ data[start:].T
        r, c = np.nonzero(sims >= threshold)
        keep = c > r  # column c is row start + c: pairs after the diagonal only
        r, c = r[keep], c[keep]
        pairs += len(r)
        if pairs > max_pairs:
            raise TooLarge(
                f"More than {max_pairs:,} pairs are at least {threshold:g} similar: that is not "
                "near-duplication. Raise the threshold (e.g. 0.98).",
                pairs=pairs,
            )
        i, j, s = start + r, start + c, sims[r, c]
        np.maximum.at(best, i, s)
        np.maximum.at(best, j, s)
        for a, b in zip(i.tolist(), j.tolist()):
            uf.union(a, b)
        if progress:
            progress(stop, n)
    roots = uf.roots()
    members = np.flatnonzero(uf.size[roots] > 1)
    order = np.lexsort((members, roots[members]))  # by root, then position
    members = members[order]
    if len(members):
        cuts = np.flatnonzero(np.diff(roots[members])) + 1
        groups = np.split(members, cuts)
    else:
        groups = []
    groups.sort(key=lambda g: (-len(g), int(g[0])))
    return Groups(groups=groups, similarity=best, pairs=pairs)
