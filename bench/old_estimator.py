"""The estimator the service used before the active design (kept here, not in the product, so
bench/estimates.py can compare it with the new one in the same run): uniform audit draws,
stratified by the classifier's prediction, each stratum's exact likelihood under sequential
uniform draws without replacement with a Jeffreys prior, the maximum-likelihood point estimate and
a box of the two strata's equal-tailed intervals (each at 0.95^(1/2)). `inputs` rebuilds what the
service read for it from the database, with the cross-fitted decisions of the round's own
training (vectrain.labeling.training, deterministic) for the items it trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, gammaln

PRIOR = (0.5, 0.5)  # Jeffreys
LEVEL = 0.95
GRID = 4001  # posterior points per stratum when the stratum is larger than this
CHUNK = 256  # draws per block of the likelihood (memory: CHUNK x GRID floats)


@dataclass(frozen=True)
class Labels:
    """A session's labeled items under one classifier; arrays of equal length.

    predicted  the classifier says positive            positive  the label says positive
    first      when the item was first labeled (any increasing clock, e.g. ns)
    audit      an audit draw                           draw      audit draws: when drawn (same clock)
    position   audit draws: order within their batch (draws of one batch share `draw`)
    unseen     what the classifier decides on the item when it has not trained on it: for items it
               trained on, a cross-fitted decision; else (audit draws, later labels) `predicted`
    """

    predicted: np.ndarray
    positive: np.ndarray
    first: np.ndarray
    audit: np.ndarray
    draw: np.ndarray
    position: np.ndarray
    unseen: np.ndarray

    @classmethod
    def of(cls, predicted, positive, first, audit=None, draw=None, position=None, unseen=None) -> Labels:
        n = len(predicted)
        audit = np.zeros(n, bool) if audit is None else np.asarray(audit, bool)
        fields = (
            np.asarray(predicted, bool),
            np.asarray(positive, bool),
            np.asarray(first, np.int64),
            audit,
            np.zeros(n, np.int64) if draw is None else np.asarray(draw, np.int64),
            np.zeros(n, np.int64) if position is None else np.asarray(position, np.int64),
            np.asarray(predicted if unseen is None else unseen, bool),
        )
        if any(len(f) != n for f in fields):
            raise ValueError("Labels: arrays of different lengths")
        return cls(*fields)

    def __len__(self) -> int:
        return len(self.predicted)


@dataclass(frozen=True)
class Draws:
    """One stratum's audit draws: the label of each, and the known counts of its pool."""

    positive: np.ndarray  # bool
    d1: np.ndarray  # positives of the stratum labeled since the draw (the draw included)
    d0: np.ndarray  # negatives of the stratum labeled since the draw (the draw included)

    def __len__(self) -> int:
        return len(self.positive)


def draws_by_stratum(labels: Labels) -> dict[bool, Draws]:
    """For every audit draw, the known part of its pool: items of its stratum labeled after the
    draw. A non-audit item counts when it was first labeled after the draw; an audit item when
    it was drawn at or after it (earlier draws were out of the pool: labeled, or waiting for a
    label and so never drawn again). Strata are the `unseen` decisions: a draw and the pool it
    came from are measured alike, as items the classifier has not trained on."""
    audit = labels.audit
    stratum_of = labels.unseen
    rank = np.empty(len(labels), np.int64)  # order of audit draws: by draw time, then position
    idx = np.flatnonzero(audit)
    order = idx[np.lexsort((labels.position[idx], labels.draw[idx]))]
    rank[order] = np.arange(len(order))
    out = {}
    for stratum in (True, False):
        mine = idx[stratum_of[idx] == stratum]
        counts = {}
        for pos in (True, False):
            cat = (stratum_of == stratum) & (labels.positive == pos)
            firsts = np.sort(labels.first[cat & ~audit])
            ranks = np.sort(rank[cat & audit])
            later = len(firsts) - np.searchsorted(firsts, labels.draw[mine], side="right")
            drawn_since = len(ranks) - np.searchsorted(ranks, rank[mine], side="left")
            counts[pos] = (later + drawn_since).astype(np.int64)
        out[stratum] = Draws(labels.positive[mine].copy(), counts[True], counts[False])
    return out


def _log_likelihood(x: np.ndarray, n: int, draws: Draws) -> np.ndarray:
    x = x.astype(np.float64)
    out = np.zeros(len(x))
    if len(draws):
        # Draws with the same (label, d1, d0) contribute the same term: group them.
        keys = np.stack([draws.positive.astype(np.int64), draws.d1, draws.d0], axis=1)
        unique, weight = np.unique(keys, axis=0, return_counts=True)
        with np.errstate(divide="ignore"):
            for start in range(0, len(unique), CHUNK):
                u, w = unique[start : start + CHUNK], weight[start : start + CHUNK, None]
                term = np.where(u[:, 0:1] == 1, np.log(x[None, :] + u[:, 1:2]), np.log(n - x[None, :] + u[:, 2:3]))
                out += (w * term).sum(axis=0)
    return out


def _log_prior(x: np.ndarray, n: int, draws: Draws, prior=PRIOR) -> np.ndarray:
    """Jeffreys on the positives of the items nobody chose on purpose: the n unlabeled ones and
    the audit draws (so a simple random sample gets the textbook beta-binomial posterior)."""
    a, b = prior
    total, k = n + len(draws), float(draws.positive.sum())
    y = x.astype(np.float64) + k
    return gammaln(total + 1) - gammaln(y + 1) - gammaln(total - y + 1) + betaln(y + a, total - y + b) - betaln(a, b)


@dataclass(frozen=True)
class Posterior:
    """Of x, the positives among a stratum's unlabeled items: points, their probabilities, and
    the maximum-likelihood value (the point estimate: in a simple random sample it is the
    Horvitz-Thompson estimate, N k / m, rounded down)."""

    values: np.ndarray
    probs: np.ndarray
    mle: int


def stratum_posterior(n: int, draws: Draws, prior=PRIOR, grid: int = GRID) -> Posterior:
    """Posterior of x, the positives among the n unlabeled items of a stratum, given its draws.

    Exact on 0..n when n < grid; otherwise on a grid refined around where the mass is."""
    n = int(n)
    if n < 0:
        raise ValueError(f"a stratum cannot hold {n} unlabeled items")
    if n == 0:
        return Posterior(np.zeros(1, np.int64), np.ones(1), 0)

    def log_post(values):
        return _log_prior(values, n, draws, prior) + _log_likelihood(values, n, draws)

    if n + 1 <= grid:
        values = np.arange(n + 1, dtype=np.int64)
    else:
        coarse = np.unique(np.round(np.linspace(0, n, grid)).astype(np.int64))
        lp = log_post(coarse)
        keep = np.flatnonzero(lp > np.max(lp) - 40)  # e^-40: nothing outside matters
        if len(keep) == 0:
            keep = np.arange(len(coarse))
        lo = coarse[max(keep[0] - 1, 0)]
        hi = coarse[min(keep[-1] + 1, len(coarse) - 1)]
        values = (
            np.arange(lo, hi + 1, dtype=np.int64)
            if hi - lo + 1 <= grid
            else np.unique(np.round(np.linspace(lo, hi, grid)).astype(np.int64))
        )
    ll = _log_likelihood(values, n, draws)
    lp = _log_prior(values, n, draws, prior) + ll
    if not np.isfinite(np.max(lp)):  # draws inconsistent with every x: fall back to the prior
        lp = _log_prior(values, n, draws, prior)
    p = np.exp(lp - np.max(lp))
    if len(values) > 1 and values[-1] - values[0] + 1 > len(values):
        # An uneven grid: weigh each point by the width of integers it stands for.
        edges = np.concatenate([[values[0]], (values[1:] + values[:-1]) / 2, [values[-1]]])
        p = p * np.maximum(np.diff(edges), 0.5)
    return Posterior(values, p / p.sum(), int(values[int(np.argmax(ll))]))


def _metrics(tp, fn, pp: int):
    """precision, recall, F1 and positives from counts (arrays or scalars); NaN where undefined."""
    tp = np.asarray(tp, np.float64)
    positives = tp + np.asarray(fn, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = tp / pp if pp else np.full(tp.shape, np.nan)
        recall = np.where(positives > 0, tp / positives, np.nan)
        f1 = np.where(pp + positives > 0, 2 * tp / (pp + positives), np.nan)
    return {"precision": precision, "recall": recall, "f1": f1, "positives": positives}


def _bounds(posterior: Posterior, level: float) -> tuple[int, int]:
    """The equal-tailed `level` interval of a stratum's posterior, widened to hold its MLE."""
    cdf = np.cumsum(posterior.probs)
    tail = (1 - level) / 2
    low = int(posterior.values[min(np.searchsorted(cdf, tail), len(cdf) - 1)])
    high = int(posterior.values[min(np.searchsorted(cdf, 1 - tail), len(cdf) - 1)])
    return min(low, posterior.mle), max(high, posterior.mle)


def estimate(labels: Labels, n_items: int, predicted_positive: int, prior=PRIOR, level: float = LEVEL) -> dict:
    """Precision, recall, F1 and the number of positives of a classifier over all n_items, each
    with a `level` interval (module docstring). `predicted_positive` is how many of the n_items
    the classifier calls positive; `labels` hold every labeled item's prediction and label."""
    n_labeled = len(labels)
    n_plus = int(predicted_positive) - int(labels.predicted.sum())  # unlabeled, predicted positive
    n_minus = int(n_items) - n_labeled - n_plus
    if n_plus < 0 or n_minus < 0:
        raise ValueError(
            f"inconsistent counts: {n_items} items, {n_labeled} labeled, {predicted_positive} predicted positive"
        )
    pools = draws_by_stratum(labels)
    posterior = {s: stratum_posterior(n, pools[s], prior) for s, n in ((True, n_plus), (False, n_minus))}
    uncertain = sum(len(p.values) > 1 for p in posterior.values())
    per_stratum = level ** (1 / max(uncertain, 1))  # both strata inside their intervals: at least `level`
    (plus_low, plus_high), (minus_low, minus_high) = (_bounds(posterior[s], per_stratum) for s in (True, False))
    pred, pos = labels.predicted, labels.positive
    tp_known, fn_known, pp = int(np.sum(pred & pos)), int(np.sum(~pred & pos)), int(predicted_positive)
    # Every quantity grows with x_+; recall and F1 shrink with x_-, positives grow with it.
    point = _metrics(tp_known + posterior[True].mle, fn_known + posterior[False].mle, pp)
    low = _metrics(tp_known + plus_low, fn_known + minus_high, pp)
    high = _metrics(tp_known + plus_high, fn_known + minus_low, pp)
    low["positives"] = tp_known + fn_known + plus_low + minus_low
    high["positives"] = tp_known + fn_known + plus_high + minus_high
    out: dict = {}
    for name in ("precision", "recall", "f1", "positives"):
        values = [float(point[name]), float(low[name]), float(high[name])]
        if not all(np.isfinite(values)):  # undefined (e.g. no positives at all)
            values = [None, None, None]
        out[name], out[f"{name}_low"], out[f"{name}_high"] = values
    out["audited"] = int(labels.audit.sum())
    out["labeled"] = n_labeled
    out["items"] = int(n_items)
    out["predicted_positive"] = pp
    return out


def stop_hint(
    f1_low: float | None,
    f1_high: float | None,
    f1: float | None,
    earlier: list[float | None],
    max_width: float,
    max_change: float,
    rounds: int,
) -> tuple[bool, str]:
    """Whether labeling more is unlikely to pay: the F1 interval is narrower than max_width and
    the F1 estimates of the `rounds` earlier rounds' classifiers (on the same audit labels) are
    all within max_change of the current one. Returns (stop, the reason in words)."""
    if f1 is None or f1_low is None or f1_high is None:
        return False, "F1 is undefined: no positives found yet"
    width = f1_high - f1_low
    if width > max_width:
        return False, f"the F1 interval is {width:.3f} wide; stop when it is narrower than {max_width:g}"
    recent = [e for e in earlier[-rounds:] if e is not None] if rounds else []
    if len(recent) < rounds:
        return False, f"the F1 interval is {width:.3f} wide; waiting for {rounds} earlier rounds to compare"
    moved = max((abs(e - f1) for e in recent), default=0.0)
    if moved > max_change:
        return False, f"F1 moved {moved:.3f} over the last {rounds} rounds (more than {max_change:g})"
    return True, (
        f"the F1 interval is {width:.3f} wide and F1 moved {moved:.3f} over the last {rounds} rounds: "
        "more labels are unlikely to change the classifier much"
    )


def inputs(store, session_id: str, X, ids: list[str], w, b: float, t: float, round_metrics_mode: str, prior):
    """(Labels, items, predicted positives) of a session's classifier (w, b, t) now, as the
    service's old estimate read them: every live label with its provenance, the decisions on the
    labeled items, and for the items the round trained on the decision of a fold model."""
    from vectrain.labeling import training

    index = {i: n for n, i in enumerate(ids)}
    rows = store.client.query(
        "SELECT l.item_id, l.score, l.audit, l.served_batch, if(l.first_version > 0, l.first_version, l.version), "
        "d.position FROM (SELECT * FROM labels FINAL WHERE session_id = {s:String} AND removed = 0) AS l "
        "LEFT JOIN (SELECT item_id, batch, position FROM audit_draws WHERE session_id = {s:String}) AS d "
        "ON d.item_id = l.item_id AND d.batch = l.served_batch ORDER BY l.item_id",
        parameters={"s": session_id},
    ).result_rows
    at = np.asarray([index[r[0]] for r in rows])
    score = np.asarray([r[1] for r in rows], np.float64)
    audit = np.asarray([bool(r[2]) for r in rows])
    decided = X @ np.asarray(w, np.float64) + b > t
    predicted = decided[at]
    unseen = predicted.copy()
    train = np.flatnonzero(~audit)
    model = training.train(round_metrics_mode, X[at[train]].astype(np.float32), score[train], prior, w)
    if model.unseen is not None:
        unseen[train] = model.unseen
    labels = Labels.of(
        predicted=predicted,
        positive=score > 0,
        first=[r[4] for r in rows],
        audit=audit,
        draw=[r[3] for r in rows],
        position=[r[5] for r in rows],
        unseen=unseen,
    )
    return labels, len(ids), int(decided.sum())
