"""The multi-class trainer: softmax regression with a label-set prior and class weights.

An item v (a unit vector) gets logits W v + b with W = alpha * P + V:

- P has one row per class: PRIOR_SCALE times the class's start vector (a label set's label), or
  a zero row for a class without one. PRIOR_SCALE is a power of two, so with no labels the
  logits are exactly 16 x the cosines and the argmax is zero-shot's.
- The objective, minimized with L-BFGS-B in float64 from V = 0, b = 0, alpha = 1:

      sum_i w_i * CE(softmax(logits(x_i)), y_i)
      + LAM_V/2 ||V||^2 + LAM_B/2 ||b||^2 + LAM_ALPHA/2 (alpha - 1)^2

  with class weights w_i = n / (classes present x labels of class y_i) (every class present
  carries the same total). The data term is a sum and the penalties are fixed, so the prior's
  pull fades as labels accumulate. With no labels the minimizer is W = P, b = 0: zero-shot.
- A class with neither a start vector nor a label is inactive: the round cannot predict it
  (it is left out of the softmax, and of the published SQL) until it gets a label.

LAM_V from {0.01, 0.03, 0.1, 0.3} and the prior scale from {16, 20, 50, 100} were chosen on
tuning seeds that the benchmark does not report (bench/multiclass.py runs other seeds).

Metrics: every label predicted by a fold model that did not train on it (stratified folds: 5 up
to FIVE_FOLDS_MAX labels, 3 above, warm-started from the full fit): accuracy, macro F1,
per-class precision and recall, the confusion matrix. Labels chosen for being hard make these
lower than the accuracy over the whole dataset (the audit estimate measures that).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vectrain.core import blas

PRIOR_SCALE = 16.0  # logit units per unit of cosine for a start vector (exact: a power of two)
LAM_V = 0.1  # ridge on V (sklearn's C = 10 with balanced weights); fixed, so the prior fades
LAM_B = 0.01  # a small ridge on biases: a class with few labels must not run off to -inf
LAM_ALPHA = 1.0  # pull of the prior's scale toward 1
MAXITER = 300
FIVE_FOLDS_MAX = 100  # labels up to which the metrics use 5 folds; 3 above (a round stays well under a second)


@dataclass
class Model:
    weights: np.ndarray  # float32 [classes, dim]: alpha * P + V; zero rows for inactive classes
    biases: np.ndarray  # float32 [classes]
    active: np.ndarray  # bool [classes]: the classes this round can predict
    alpha: float = 1.0
    metrics: dict = field(default_factory=dict)


def prior_matrix(starts: list, dim: int, scale: float = PRIOR_SCALE) -> np.ndarray:
    """[classes, dim] float32: scale x the unit start vector of each class, zeros without one."""
    P = np.zeros((len(starts), dim), dtype=np.float32)
    for c, v in enumerate(starts):
        if v is not None and len(v):
            v = np.asarray(v, dtype=np.float32)
            P[c] = np.float32(scale) * (v / np.linalg.norm(v))
    return P


def class_weights(y: np.ndarray, classes: int) -> np.ndarray:
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    present = int((counts > 0).sum())
    return len(y) / (present * counts[y])


def fit(X: np.ndarray, y: np.ndarray, P: np.ndarray, init=None) -> tuple[np.ndarray, np.ndarray, float]:
    """(W, b, alpha) minimizing the objective above over the rows of P; `init` = (W, b, alpha)
    warm-starts the optimizer (the fold fits start from the full fit)."""
    from scipy.optimize import minimize

    C, d = P.shape
    n = len(y)
    if n == 0:
        return P.astype(np.float32), np.zeros(C, np.float32), 1.0
    X = np.asarray(X, dtype=np.float64)
    P64 = np.asarray(P, dtype=np.float64)
    has_prior = bool(np.any(P64))
    XP = X @ P64.T if has_prior else None
    w = class_weights(y, C)
    Y = np.zeros((n, C))
    Y[np.arange(n), y] = 1.0
    nv = C * d

    def objective(theta):
        V = theta[:nv].reshape(C, d)
        b = theta[nv : nv + C]
        a = theta[-1] if has_prior else 1.0
        z = X @ V.T + b
        if has_prior:
            z = z + a * XP
        zmax = z.max(axis=1, keepdims=True)
        lse = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
        loss = float(w @ (lse - z[np.arange(n), y]))
        G = w[:, None] * (np.exp(z - lse[:, None]) - Y)
        loss += 0.5 * LAM_V * float(np.sum(V * V)) + 0.5 * LAM_B * float(b @ b)
        grad = np.empty_like(theta)
        grad[:nv] = (G.T @ X + LAM_V * V).ravel()
        grad[nv : nv + C] = G.sum(axis=0) + LAM_B * b
        if has_prior:
            loss += 0.5 * LAM_ALPHA * (a - 1.0) ** 2
            grad[-1] = float(np.sum(G * XP)) + LAM_ALPHA * (a - 1.0)
        return loss, grad

    theta0 = np.zeros(nv + C + (1 if has_prior else 0))
    if has_prior:
        theta0[-1] = 1.0
    if init is not None:
        W0, b0, a0 = init
        theta0[:nv] = (np.asarray(W0, np.float64) - (a0 * P64 if has_prior else 0.0)).ravel()
        theta0[nv : nv + C] = b0
        if has_prior:
            theta0[-1] = a0
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B", options={"maxiter": MAXITER})
    V = res.x[:nv].reshape(C, d)
    a = float(res.x[-1]) if has_prior else 1.0
    return (a * P64 + V).astype(np.float32), res.x[nv : nv + C].astype(np.float32), a


def folds_of(y: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold of each label: within each class shuffled and dealt round-robin, continuing across
    classes so small classes do not all land in fold 0."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=int)
    start = 0
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        fold[idx] = (start + np.arange(len(idx))) % k
        start += len(idx)
    return fold


def summarize(M: np.ndarray) -> dict:
    """Accuracy, macro F1 (over classes with labels), per-class precision and recall from a
    confusion matrix (rows: the label, columns: the prediction)."""
    tp = np.diag(M).astype(float)
    support = M.sum(axis=1).astype(float)
    predicted = M.sum(axis=0).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    present = support > 0
    return {
        "accuracy": round(float(tp.sum() / max(M.sum(), 1)), 4),
        "macro_f1": round(float(f1[present].mean()), 4) if present.any() else 0.0,
        "precision": precision.round(4).tolist(),
        "recall": recall.round(4).tolist(),
        "confusion": M.tolist(),
    }


def train(X: np.ndarray, y: np.ndarray, P: np.ndarray, metrics: bool = True) -> Model:
    """One round on labels (X, y) with prior P: the fit over the active classes and, when there
    are labels, cross-fitted metrics over all classes."""
    y = np.asarray(y, dtype=np.int64)
    C, d = P.shape
    counts = np.bincount(y, minlength=C)
    active = np.any(P != 0, axis=1) | (counts > 0)
    idx = np.flatnonzero(active)
    position = np.full(C, -1)
    position[idx] = np.arange(len(idx))
    ya = position[y]
    Pa = P[idx]
    W = np.zeros((C, d), np.float32)
    b = np.zeros(C, np.float32)
    # The fits are small (labels x dim x classes): more BLAS threads only add wake-ups.
    with blas.one_thread():
        Wa, ba, alpha = fit(X, ya, Pa)
        W[idx], b[idx] = Wa, ba
        out = {"labeled": int(len(y)), "per_class": counts.tolist(), "active": int(len(idx)), "alpha": round(alpha, 4)}
        k = min(5 if len(y) <= FIVE_FOLDS_MAX else 3, len(y))
        if metrics and k >= 2 and len(idx) >= 2:
            fold = folds_of(ya, k)
            predicted = np.empty(len(y), dtype=np.int64)
            for f in range(k):
                held = fold == f
                Wf, bf, _ = fit(X[~held], ya[~held], Pa, init=(Wa, ba, alpha))
                predicted[held] = idx[np.argmax(np.asarray(X[held], np.float32) @ Wf.T + bf, axis=1)]
            M = np.zeros((C, C), dtype=np.int64)
            np.add.at(M, (y, predicted), 1)
            out.update(summarize(M))
            out["cv_folds"] = k
        else:
            out.update({"accuracy": None, "macro_f1": None, "cv_folds": 0})
    return Model(weights=W, biases=b, active=active, alpha=alpha, metrics=out)


# -- scoring -----------------------------------------------------------------------------------
@dataclass
class Scored:
    """A block of items under one round: top class (an index into the session's classes), its
    softmax probability, and the margin to the runner-up (p1 - p2)."""

    top: np.ndarray  # int [n]
    score: np.ndarray  # float32 [n]
    margin: np.ndarray  # float32 [n]


def score(vectors: np.ndarray, weights: np.ndarray, biases: np.ndarray, active: np.ndarray) -> Scored:
    """Score a block over the active classes. The logits are one float32 matrix product (with no
    labels, exactly 16 x zero-shot's cosines, so the same argmax); the softmax is float32 too,
    shifted by each row's top logit (exp in float64 took 8x as long, for digits a Float32 column
    does not keep)."""
    idx = np.flatnonzero(active)
    n = len(vectors)
    if len(idx) == 0:
        return Scored(np.zeros(n, np.int64), np.zeros(n, np.float32), np.zeros(n, np.float32))
    z = np.asarray(vectors, dtype=np.float32) @ np.asarray(weights, np.float32)[idx].T
    z += np.asarray(biases, np.float32)[idx]
    rows = np.arange(n)
    best = z.argmax(axis=1)  # the first of equal logits, as numpy's (and zero-shot's) argmax
    z -= z[rows, best][:, None]  # the top logit is 0, the others below
    if len(idx) > 1:
        z[rows, best] = -np.inf
        second = z.max(axis=1)
        z[rows, best] = 0.0
    else:
        second = np.full(n, -np.inf, np.float32)
    np.exp(z, out=z)
    total = z.sum(axis=1)
    p1 = 1.0 / total
    p2 = np.exp(second) / total
    return Scored(idx[best], p1.astype(np.float32), (p1 - p2).astype(np.float32))
