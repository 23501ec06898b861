"""Training a session's linear classifier from its labels: `auto` (the default) and the seeds' update.

Both modes return weights w and bias b (an item scores dot(w, v) + b) and a threshold t; an item
is positive when its score exceeds t.

- auto: class-balanced logistic regression with a bias, pulled toward the prompt p: the loss is
  summed over the labels (each class weighs n/2 in all) plus LAM/2 * ||w - PRIOR_SCALE * p||^2.
  The penalty stays fixed while the data term grows with the labels, so the prompt's pull fades
  as labels accumulate. The threshold is 0, probability 0.5 under the balanced model: nothing is
  calibrated on the labels, which were chosen on purpose and would flatter any cut fitted to
  them (measured against the best-F1 cut of the labels and of cross-fitted scores in
  bench/label_efficiency.py's prototype: 0 was better on held-out F1 at every budget). While a
  class has no label the classifier stays the session's start (round 0) with its label-free
  threshold: a fit to one class only would walk away from the prompt in no useful direction.
- seed: the seeds' loop, reproduced exactly. A bias-free torch Linear whose weight starts as
  the session's current weights (re-normalized; the seeds chained rounds this way), trained on
  all labels of the session: BCEWithLogits (mean), SGD lr 0.1, 5 full-batch iterations, the
  weight re-normalized to unit length after every step, graded scores mapped to (s+1)/2; the
  threshold is the best-F1 cut of its scores on the labels.

Both cross-fit: K = min(5, positives, negatives) stratified folds give every label the score of a
model that did not train on it (`oof`). The quality number (vectrain.labeling.quality) calibrates
on those, and the audit's estimate uses their decisions (`unseen`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vectrain.core import blas

SEED_LR = 0.1
SEED_STEPS = 5
PRIOR_SCALE = 20.0  # logit units per unit of cosine similarity for the prior (CLIP uses 100)
LAM = 0.03  # the prior's weight against a loss summed over labels
CV_FOLDS = 5


@dataclass
class Model:
    weights: np.ndarray
    bias: float
    threshold: float
    metrics: dict = field(default_factory=dict)
    # Per training label, the score of a fold model that did not train on it (cross-fitted), and
    # that model's decision: what the classifier does on an item it has not seen. None without
    # cross-validation (fewer than 2 labels of a class).
    oof: np.ndarray | None = None
    unseen: np.ndarray | None = None


def targets(scores: np.ndarray) -> np.ndarray:
    """Graded labels in [-1, 1] -> BCE targets in [0, 1]."""
    return (np.asarray(scores, dtype=np.float64) + 1.0) / 2.0


# -- seed ------------------------------------------------------------------------------------
def seed_update(
    start: np.ndarray, X: np.ndarray, scores: np.ndarray, lr: float = SEED_LR, steps: int = SEED_STEPS
) -> np.ndarray:
    """The seeds' update with torch, as they ran it; returns the new unit weights."""
    import torch

    torch.manual_seed(0)
    w0 = np.asarray(start, dtype=np.float32)
    w0 = w0 / np.linalg.norm(w0)
    linear = torch.nn.Linear(X.shape[1], 1, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(w0[None, :]))
    x = torch.from_numpy(np.asarray(X, dtype=np.float32))
    y = torch.from_numpy(targets(scores).astype(np.float32))[:, None]
    loss_fn = torch.nn.BCEWithLogitsLoss()
    opt = torch.optim.SGD(linear.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(linear(x), y)
        loss.backward()
        opt.step()
        with torch.no_grad():
            linear.weight /= linear.weight.norm()
    return linear.weight.detach().numpy()[0].astype(np.float32)


# -- auto ------------------------------------------------------------------------------------
def fit_auto(
    X: np.ndarray, scores: np.ndarray, prior: np.ndarray, lam: float = LAM, prior_scale: float = PRIOR_SCALE
) -> tuple[np.ndarray, float]:
    """argmin over (w, b) of sum_i [c+ t_i log(1 + e^-z_i) + c- (1 - t_i) log(1 + e^z_i)]
    + lam/2 ||w - prior_scale * p||^2, z_i = dot(w, x_i) + b: class-balanced (c+ = n / 2P, c- =
    n / 2N, P and N the positive and negative mass of the targets t = (s + 1) / 2, so graded labels
    count fractionally). Needs both classes. Returns (w, b)."""
    from scipy.optimize import minimize

    X = np.asarray(X, dtype=np.float64)
    t = targets(scores)
    n, d = X.shape
    pos, neg = t.sum(), n - t.sum()
    c_pos, c_neg = n / (2.0 * pos), n / (2.0 * neg)
    p = np.asarray(prior, dtype=np.float64)
    mu = prior_scale * p / np.linalg.norm(p)

    def f(theta):
        w, b = theta[:d], theta[d]
        z = X @ w + b
        sig = 0.5 * (1.0 + np.tanh(0.5 * z))
        g = c_pos * t * (sig - 1.0) + c_neg * (1.0 - t) * sig
        diff = w - mu
        loss = np.sum(c_pos * t * np.logaddexp(0.0, -z) + c_neg * (1.0 - t) * np.logaddexp(0.0, z))
        grad = np.empty(d + 1)
        grad[:d] = X.T @ g + lam * diff
        grad[d] = g.sum()
        return loss + 0.5 * lam * diff @ diff, grad

    # From the prior, with the bias halfway between the classes' mean prior scores.
    zm = X @ mu
    b0 = -0.5 * (np.dot(t, zm) / pos + np.dot(1.0 - t, zm) / neg)
    res = minimize(f, np.concatenate([mu, [b0]]), jac=True, method="L-BFGS-B", options={"maxiter": 300, "gtol": 1e-6})
    return res.x[:d].astype(np.float32), float(res.x[d])


# -- thresholds and metrics --------------------------------------------------------------------
def best_threshold(z: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """The threshold maximizing F1 of z > t on these labels, and that F1."""
    order = np.argsort(-z, kind="stable")
    zs, ys = z[order], positive[order].astype(np.float64)
    total = ys.sum()
    if total == 0:
        return float(zs[0] + 1e-6) if len(zs) else 0.0, 0.0
    tp = np.cumsum(ys)
    k = np.arange(1, len(zs) + 1)
    f1 = 2 * tp / (k + total)
    # only cut between distinct values
    valid = np.r_[zs[:-1] > zs[1:], True]
    f1 = np.where(valid, f1, -1)
    i = int(np.argmax(f1))
    t = (zs[i] + zs[i + 1]) / 2 if i + 1 < len(zs) else zs[i] - 1e-6
    return float(t), float(f1[i])


def f1_score(pred: np.ndarray, positive: np.ndarray) -> float:
    tp = float(np.sum(pred & positive))
    denom = float(pred.sum() + positive.sum())
    return 2 * tp / denom if denom else 0.0


def otsu_threshold(values: np.ndarray, counts: np.ndarray) -> float:
    """Label-free threshold: Otsu's split of a score histogram (maximal between-class variance)."""
    values = np.asarray(values, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if len(values) < 2:
        return float(values[0]) if len(values) else 0.0
    w0 = np.cumsum(counts)
    w1 = w0[-1] - w0
    m0 = np.cumsum(counts * values)
    mu0 = m0 / np.maximum(w0, 1e-12)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1e-12)
    between = w0 * w1 * (mu0 - mu1) ** 2
    i = int(np.argmax(between[:-1]))
    return float((values[i] + values[i + 1]) / 2)


def _folds(positive: np.ndarray, k: int, seed: int = 0) -> list[np.ndarray]:
    """Stratified fold assignment: each fold gets its share of positives and negatives."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(positive), dtype=int)
    for cls in (True, False):
        idx = np.flatnonzero(positive == cls)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % k
    return [np.flatnonzero(fold == i) for i in range(k)]


def warm_up() -> None:
    """Load what the first fit needs (scipy, the BLAS controller), e.g. when a service starts."""
    blas.warm_up()


def train(
    mode: str,
    X: np.ndarray,
    scores: np.ndarray,
    prior: np.ndarray,
    current: np.ndarray,
    start=None,
    fallback_threshold=None,
    folds: int = CV_FOLDS,
) -> Model:
    """Fit one round. `start` is the session's round 0 (weights, threshold): `auto` keeps it while
    a class has no label. `fallback_threshold(w, b)` gives `seed` a label-free threshold when the
    labels hold too few of a class to calibrate one."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = scores > 0
    n_pos, n_neg = int(positive.sum()), int((scores < 0).sum())
    metrics = {"mode": mode, "labeled": int(len(scores)), "positives": n_pos, "negatives": n_neg}
    if mode == "auto" and (n_pos == 0 or n_neg == 0):
        weights, threshold = start
        metrics["threshold_source"] = "the start's, from the score distribution (one class labeled)"
        return Model(np.asarray(weights, dtype=np.float32), 0.0, float(threshold), metrics)

    def fit(Xf, sf):
        # The fits are small (labels x dim): more BLAS threads only add wake-ups, and on a busy
        # machine they stall (2 busy cores, a 62-label round: p90 204 ms with OpenBLAS's default
        # threads, 7 ms with one).
        with blas.one_thread():
            if mode == "seed":
                return seed_update(current, Xf, sf), 0.0
            return fit_auto(Xf, sf, prior)

    w, b = fit(X, scores)
    k = min(folds, n_pos, int((~positive).sum()))
    oof = unseen = None
    if k >= 2:
        oof = np.empty(len(scores))
        unseen = np.empty(len(scores), dtype=bool)
        for idx in _folds(positive, k):
            train_idx = np.setdiff1d(np.arange(len(scores)), idx)
            wf, bf = fit(X[train_idx], scores[train_idx])
            oof[idx] = X[idx] @ wf + bf
            # The fold model's own threshold, set as the full model's is.
            cut = 0.0 if mode == "auto" else best_threshold(X[train_idx] @ wf + bf, positive[train_idx])[0]
            unseen[idx] = oof[idx] > cut
        metrics["cv_folds"] = k
        # F1 of the cross-fitted decisions on the labels: what the labels say, not the classifier's
        # F1 (the labels were chosen on purpose, near the threshold or at the top, not at random).
        metrics["labels_cv_f1"] = round(f1_score(unseen, positive), 4)
    if mode == "auto":
        threshold = 0.0
        metrics["threshold_source"] = "probability 0.5 under the class-balanced model"
    elif k >= 2:
        threshold, train_f1 = best_threshold(X @ w + b, positive)
        metrics["train_f1"] = round(train_f1, 4)
        metrics["threshold_source"] = "labels (best F1 of the scores on them)"
    else:
        threshold = fallback_threshold(w, b) if fallback_threshold else 0.0
        metrics["threshold_source"] = "score distribution (too few labels of a class)"
    return Model(np.asarray(w, dtype=np.float32), float(b), float(threshold), metrics, oof, unseen)
