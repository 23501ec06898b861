"""The quality a round reports: an estimate of its F1 over the whole dataset that does not assume
the labels were a random sample.

The labels of an active loop are chosen on purpose (near the threshold, at the top), so their
cross-validated F1 says little about the classifier: on the Food bench it overstated the true F1
by 0.12 at 20 labels. What the labels do say, without that bias, is how likely an item is to be
positive at a given score, as long as the choice depended on the score: an isotonic (monotone,
pool-adjacent-violators) map q(z) from the cross-fitted scores of the labels to P(positive). It is
applied to the score of every unlabeled row (linear between the labels' scores, constant beyond),
and labeled rows count with their labels:

    F1 = 2 TP / (predicted positive + positives)
    TP = sum of q(z) over unlabeled rows with z > t  +  labeled positives with z > t
    positives = sum of q(z) over unlabeled rows  +  labeled positives

The predicted positives are counted exactly. Sums of q over a million rows are exact too and cost
microseconds: q is piecewise linear, so each piece's sum comes from prefix sums of the sorted
scores (vectrain.labeling.scoring keeps every row's score sorted). The interval: a stratified
bootstrap of the labels, each resample's isotonic blocks drawn from their Beta posteriors
(`_drawn`), 2.5th to 97.5th percentile: how much the labels pin q down. It does not model how the
labels were chosen; bench/label_efficiency.py reports how often it holds the true F1. Below
MIN_CLASS_LABELS labels of a class the number is withheld.
"""

from __future__ import annotations

import numpy as np

MIN_CLASS_LABELS = 5
BOOTSTRAP = 200
LEVEL = 0.95
# Pseudo-labels of each class in a block's Beta posterior. Chosen on the Food prototype's split
# seeds 0-9 against the round's true F1 over its pool: the resample alone held it 63-83% of the
# time at 20-100 labels, 0.02 held it 83-93% (seeds 10-19: 83-97%); 0.1 and more pushed whole
# intervals below it (a block spans thousands of unlabeled rows: its prior counts that often).
BLOCK_PRIOR = 0.02


def _pool(values, weights, ends):
    """Pool adjacent violators over blocks (value, weight, last knot)."""
    out_v, out_w, out_e = [], [], []
    for v, w, e in zip(values, weights, ends):
        while out_v and out_v[-1] > v:
            pv, pw = out_v.pop(), out_w.pop()
            out_e.pop()
            v, w = (pv * pw + v * w) / (pw + w), w + pw
        out_v.append(v)
        out_w.append(w)
        out_e.append(e)
    return out_v, out_w, out_e


def _blocks(z, positive):
    """The isotonic fit's blocks: knots xs (distinct z), and per block its positives, count and
    last knot."""
    xs, inverse, counts = np.unique(np.asarray(z, dtype=np.float64), return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=np.asarray(positive, dtype=np.float64), minlength=len(xs))
    values, weights, ends = _pool(sums / counts, counts.astype(np.float64), range(len(xs)))
    return xs, np.asarray(values) * np.asarray(weights), np.asarray(weights), np.asarray(ends)


def _at_knots(n: int, values, ends) -> np.ndarray:
    fitted = np.empty(n)
    start = 0
    for v, e in zip(values, ends):
        fitted[start : e + 1] = v
        start = e + 1
    return fitted


def isotonic(z: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots (x ascending, distinct; q non-decreasing) of the least-squares isotonic fit of
    `positive` on `z` (pool adjacent violators, ties pooled first)."""
    xs, sums, counts, ends = _blocks(z, positive)
    return xs, _at_knots(len(xs), sums / counts, ends)


def _drawn(z, positive, rng) -> tuple[np.ndarray, np.ndarray]:
    """One draw of the calibration: the isotonic fit of a resample of the labels, each block's
    value drawn from its Beta posterior (BLOCK_PRIOR pseudo-labels of each class), pooled again
    to stay monotone. A resample alone keeps a block of 5 positives at exactly 1: the posterior
    says what 5 labels cannot rule out."""
    xs, sums, counts, ends = _blocks(z, positive)
    drawn = rng.beta(sums + BLOCK_PRIOR, counts - sums + BLOCK_PRIOR)
    values, _, ends = _pool(drawn, counts, ends)
    return xs, _at_knots(len(xs), values, ends)


class SortedScores:
    """Every row's score, ascending, with prefix sums: sums of a piecewise-linear function of the
    score over all rows, or over the rows above a cut, in O(knots log rows)."""

    def __init__(self, scores: np.ndarray):
        self.z = np.asarray(scores, dtype=np.float64)
        self.prefix = np.concatenate([[0.0], np.cumsum(self.z)])

    def __len__(self) -> int:
        return len(self.z)

    def above(self, t: float) -> int:
        return len(self.z) - int(np.searchsorted(self.z, t, side="right"))

    def interp_sum(self, xs: np.ndarray, qs: np.ndarray, above: float | None = None) -> float:
        """sum over rows (those with z > `above`, when given) of np.interp(z, xs, qs)."""
        lo = 0 if above is None else int(np.searchsorted(self.z, above, side="right"))
        cuts = np.clip(np.searchsorted(self.z, xs, side="left"), lo, len(self.z))
        total = qs[0] * (cuts[0] - lo) + qs[-1] * (len(self.z) - cuts[-1])
        if len(xs) > 1:
            a, b = cuts[:-1], cuts[1:]
            count = b - a
            zsum = self.prefix[b] - self.prefix[a]
            slope = np.diff(qs) / np.diff(xs)
            total += float(np.sum(count * qs[:-1] + slope * (zsum - count * xs[:-1])))
        return float(total)


def expected_f1(
    rows: SortedScores, t: float, labeled_z: np.ndarray, labeled_pos: np.ndarray, xs: np.ndarray, qs: np.ndarray
) -> float:
    """The F1 at threshold t over every row (module doc): `rows` hold every row's score, the
    labeled ones included, which count with their labels instead of q."""
    q_labeled = np.interp(labeled_z, xs, qs)
    over = labeled_z > t
    tp = rows.interp_sum(xs, qs, above=t) - q_labeled[over].sum() + np.sum(over & labeled_pos)
    positives = rows.interp_sum(xs, qs) - q_labeled.sum() + labeled_pos.sum()
    predicted = rows.above(t)
    denominator = predicted + positives
    return float(2 * tp / denominator) if denominator > 0 else 0.0


def few_labels(positives: int, negatives: int) -> str | None:
    """The word for a round whose labels cannot judge it yet, or None."""
    if positives < MIN_CLASS_LABELS:
        return f"too few positives to judge ({positives} labeled; {MIN_CLASS_LABELS} needed)"
    if negatives < MIN_CLASS_LABELS:
        return f"too few negatives to judge ({negatives} labeled; {MIN_CLASS_LABELS} needed)"
    return None


def estimate(
    rows: SortedScores,
    t: float,
    oof: np.ndarray | None,
    labeled_z: np.ndarray,
    positive: np.ndarray,
    seed: int = 0,
) -> dict:
    """The round's quality: {"f1", "f1_low", "f1_high", "message"} (f1 None with a message when
    too few labels of a class). `oof`: the labels' cross-fitted scores; `labeled_z`: their
    scores under the round's model; `positive`: their labels."""
    positive = np.asarray(positive, dtype=bool)
    message = few_labels(int(positive.sum()), int((~positive).sum()))
    if message is not None or oof is None:
        return {"f1": None, "f1_low": None, "f1_high": None, "message": message or "no cross-fitted scores"}
    labeled_z = np.asarray(labeled_z, dtype=np.float64)
    f1 = expected_f1(rows, t, labeled_z, positive, *isotonic(oof, positive))
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~positive)
    draws = []
    for _ in range(BOOTSTRAP):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        draws.append(expected_f1(rows, t, labeled_z, positive, *_drawn(oof[idx], positive[idx], rng)))
    low, high = np.quantile(draws, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    low, high = min(low, f1), max(high, f1)  # a skewed spread still holds the estimate it is about
    return {"f1": round(f1, 4), "f1_low": round(float(low), 4), "f1_high": round(float(high), 4), "message": None}
