"""Label errors: labeled items whose stored label disagrees with a confident neighbourhood.

Every labeled item's k nearest labeled neighbours (exact: the blocked matmul top-k of
vectrain.classify.knn, the item itself excluded) vote, weighted by similarity. An item is suspect when the
label with most votes is not its own and holds at least `min_agreement` of the votes; its score
is that label's vote share minus its own label's share (1: every neighbour says another label,
with none for its own). Suspects come most suspect first: by score, then by how similar the
agreeing neighbours are, then by position.

Memory: the vectors, plus one block of similarities (block x n float32, kept near 128 MB).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vectrain.classify.knn import topk
from vectrain.core.budget import Deadline
from vectrain.core.errors import BadInput

Progress = Callable[[int, int], None]
BLOCK_BYTES = 128 * 1024 * 1024


def block_rows(n: int, most: int = 1024) -> int:
    """Query rows per matmul block so one block of similarities stays near BLOCK_BYTES."""
    return int(max(32, min(most, BLOCK_BYTES // (4 * max(n, 1)))))


@dataclass
class Suspects:
    """Positions (into the rows given) of the suspects, most suspect first, and per suspect the
    suggested label, the score, the agreement (vote share of the suggestion) and the neighbours."""

    index: np.ndarray
    suggested: list[str]
    score: np.ndarray
    agreement: np.ndarray
    neighbors: np.ndarray  # [m, k] positions of the voters, nearest first


def find_suspects(
    vectors: np.ndarray,
    labels: list[str],
    k: int = 10,
    min_agreement: float = 0.5,
    deadline: Deadline = Deadline.none(),
    progress: Progress | None = None,
) -> Suspects:
    n = len(vectors)
    if n < 2:
        raise BadInput("A label audit needs at least 2 labeled items")
    k = min(int(k), n - 1)
    classes, y = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    block = block_rows(n)
    chunk = block * 8  # queries per progress report
    idx = np.empty((n, k), np.int64)
    sims = np.empty((n, k), np.float32)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        idx[start:stop], sims[start:stop] = topk(
            vectors, vectors[start:stop], k, exclude=np.arange(start, stop), block=block, deadline=deadline
        )
        if progress:
            progress(stop, n)
    weight = np.maximum(sims.astype(np.float64), 0.0) + 1e-6
    votes = np.zeros((n, len(classes)))
    np.add.at(votes, (np.repeat(np.arange(n), k), y[idx].ravel()), weight.ravel())
    share = votes / votes.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    best = np.argmax(share, axis=1)
    own = share[rows, y]
    agreement = share[rows, best]
    flagged = np.flatnonzero((best != y) & (agreement >= min_agreement))
    score = (agreement - own)[flagged]
    voted = y[idx[flagged]] == best[flagged, None]
    closeness = np.where(voted, sims[flagged], 0).sum(axis=1) / np.maximum(voted.sum(axis=1), 1)
    order = np.lexsort((flagged, -closeness, -score))
    flagged = flagged[order]
    return Suspects(
        index=flagged,
        suggested=[str(classes[best[i]]) for i in flagged],
        score=score[order],
        agreement=agreement[flagged],
        neighbors=idx[flagged],
    )
