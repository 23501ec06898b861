"""Training a session's linear classifier from its labels: the seeds' update and `auto`.

Both modes return weights w and bias b (an item scores dot(w, v) + b) and a threshold t
calibrated on the labeled set; an item is positive when its score exceeds t.

- seed: the seeds' loop, reproduced exactly. A bias-free torch Linear whose weight starts as
  the session's current weights (re-normalized; the seeds chained rounds this way), trained on
  all labels of the session: BCEWithLogits (mean), SGD lr 0.1, 5 full-batch iterations, the
  weight re-normalized to unit length after every step, graded scores mapped to (s+1)/2.
- auto: class-balanced logistic regression with a bias, regularized toward the starting
  weights (the prompt): w = alpha * prior + v with a penalty on v whose weight is fixed while
  the data term is a mean, so the prior fades as labels grow. Graded scores are soft targets.
  The threshold and the reported F1 come from out-of-fold scores (cross-validation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vectrain.core import blas

SEED_LR = 0.1
SEED_STEPS = 5
PRIOR_SCALE = 20.0  # logit units per unit of cosine similarity for the prior (CLIP uses 100)


@dataclass
class Model:
    weights: np.ndarray
    bias: float
    threshold: float
    metrics: dict = field(default_factory=dict)
    # Per training label, the decision of a fold model that did not train on it (cross-fitted):
    # what the classifier decides on an item it has not seen. None without cross-validation.
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
    X: np.ndarray, scores: np.ndarray, prior: np.ndarray, l2: float = 0.01, prior_scale: float = PRIOR_SCALE
) -> tuple[np.ndarray, float]:
    """Class-balanced logistic regression pulled toward prior_scale * prior; returns (w, b)."""
    from scipy.optimize import minimize

    X = np.asarray(X, dtype=np.float64)
    t = targets(scores)
    n, d = X.shape
    p = np.asarray(prior, dtype=np.float64)
    p = p / np.linalg.norm(p)
    # Balance: positives and negatives carry equal total weight (soft targets count fractionally).
    pos = t.sum()
    neg = n - pos
    cw = np.where(t >= 0.5, 0.5 / max(pos, 1e-9), 0.5 / max(neg, 1e-9)) if pos > 0 and neg > 0 else np.full(n, 1.0 / n)
    w_prior = prior_scale * p

    def f(theta):
        w, b = theta[:d], theta[d]
        z = X @ w + b
        # log(1 + e^z) - t z, stable
        loss = np.sum(cw * (np.logaddexp(0.0, z) - t * z))
        g_z = cw * (1.0 / (1.0 + np.exp(-z)) - t)
        diff = w - w_prior
        loss += 0.5 * l2 * diff @ diff
        grad = np.empty(d + 1)
        grad[:d] = X.T @ g_z + l2 * diff
        grad[d] = g_z.sum()
        return loss, grad

    # Start from the prior with the bias that centers the labeled scores.
    b0 = -float(np.median(X @ w_prior)) if n else 0.0
    theta0 = np.concatenate([w_prior, [b0]])
    res = minimize(f, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
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
    fallback_threshold=None,
    folds: int = 5,
) -> Model:
    """Fit one round. `fallback_threshold(w, b)` supplies a label-free threshold when the labels
    hold too few of a class to calibrate one."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = scores > 0
    n_pos, n_neg = int(positive.sum()), int((scores < 0).sum())

    def fit(Xf, sf):
        # The fits are small (labels x dim): more BLAS threads only add wake-ups, and on a busy
        # machine they stall (2 busy cores, a 62-label round: p90 204 ms with OpenBLAS's default
        # threads, 7 ms with one).
        with blas.one_thread():
            if mode == "seed":
                return seed_update(current, Xf, sf), 0.0
            return fit_auto(Xf, sf, prior)

    w, b = fit(X, scores)
    metrics = {"mode": mode, "labeled": int(len(scores)), "positives": n_pos, "negatives": n_neg}
    k = min(folds, n_pos, int((~positive).sum()))
    if k >= 2:
        oof = np.empty(len(scores))
        unseen = np.empty(len(scores), dtype=bool)
        for idx in _folds(positive, k):
            train_idx = np.setdiff1d(np.arange(len(scores)), idx)
            wf, bf = fit(X[train_idx], scores[train_idx])
            oof[idx] = X[idx] @ wf + bf
            # The fold model's own threshold, calibrated as the full model's is (on its training scores).
            unseen[idx] = oof[idx] > best_threshold(X[train_idx] @ wf + bf, positive[train_idx])[0]
        t_oof, _ = best_threshold(oof, positive)
        metrics["cv_folds"] = k
        metrics["cv_f1"] = round(f1_score(oof > t_oof, positive), 4)
        # The full model's scores on the labels are sharper than the fold models'; calibrate the
        # threshold on them but only where cross-validation agrees the labels are separable.
        full = X @ w + b
        threshold, metrics["train_f1"] = best_threshold(full, positive)
        metrics["train_f1"] = round(metrics["train_f1"], 4)
        metrics["threshold_source"] = "labels"
    else:
        threshold = fallback_threshold(w, b) if fallback_threshold else 0.0
        unseen = None
        metrics["cv_f1"] = None
        metrics["threshold_source"] = "score distribution (too few labels of a class)"
    return Model(
        weights=np.asarray(w, dtype=np.float32),
        bias=float(b),
        threshold=float(threshold),
        metrics=metrics,
        unseen=unseen,
    )
