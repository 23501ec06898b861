"""How good is a classifier over a whole dataset? Estimates from a predictor and a few audit labels.

Pure functions (numpy and scipy, no database); vectrain.labeling.estimates feeds them a session.

Notation
--------
N items; h the classifier being measured (h_j = 1: it calls item j positive), fixed; y_j the true
label. The estimands are totals over all N items and functions of them:

    PP = sum h (known)    TP = sum h y    P = sum y
    precision = TP / PP,  recall = TP / P,  F1 = 2 TP / (PP + P),  positives = P

Labels come two ways. S: the strategy's picks, the user's, the examples: used for training, chosen
on purpose. A: audit draws, from a recorded random design, held out of training. U: the rest.

The predictor p (vectrain.labeling.predictor) is each item's probability of being positive, a
function of S only (never of an audit label). pv is a recalibration of p that may use the audit
labels: it sets the design and the variance's model part, never the point estimate.

The design. Each batch's draws come from its pool (items neither labeled nor drawn before) with
weights q = 0.8 sqrt(pv (1 - pv)) / sum + 0.2 / |pool| (active inference, Zrnic and Candes 2024:
labels where the model is unsure carry the most), one at a time without replacement; each draw
records its probability pi_d = q(I_d) / (1 - the q of the batch's earlier draws).

The estimator (prediction-powered: Angelopoulos et al. 2023). For a total T = sum c y (c = h for
TP, 1 for P), with z = y - p and K the known sum of c y over S and A, each draw d gives

    T_d = K + sum_U c p + c_d z_d / pi_d - sum_{d' >= d} c_d' z_d'

Given S, E[c z_I / pi_d | earlier draws] is the sum of c z over draw d's pool minus S, which is
sum_U c z plus the draws from d on: so every T_d is unbiased and T_d - T is a martingale difference
sequence, however the design changed between batches. Draws are combined with weights fixed
before their labels are seen (inverse model-based variance); F1, recall and precision by the delta
method on per-draw influence values, e.g. phi_d = 2 / (PP + P) (TP_d - F1 / 2 P_d).

The variance pools two estimates (a scaled inverse chi-square prior centred on the model's):
    V_emp  the martingale (observed) variance of the weighted phi_d: too small early, when no
           draw has yet hit one of the few hidden positives among the confident negatives;
    V_mod  the design variance if pv were the truth: sum_d w_d^2 (sum over d's pool of
           c^2 E z^2 / q_d - (sum c E z)^2), E z^2 = pv (1 - pv) + (pv - p)^2 on unlabeled items;
    V = (nu0 V_mod + (M_eff - 1) V_emp) / (nu0 + M_eff - 1), a t interval on nu0 + M_eff - 1
degrees of freedom, nu0 = 10 (the smallest of 2, 5, 10, 20, 40 whose coverage stayed >= 0.95 at
every number of draws in simulated Food-101 sessions of split seeds 0-4). The point estimate is
exactly unbiased for any p; the interval's coverage is asymptotic and measured (BENCHMARKS.md).

Classes. Everything above is per total: a multi-class session would run it once per class k,
with h_k (the classifier calls k), y_k (the label is k) and p_k (the predictor's probability of
k), for TP_k and P_k (PP_k known), giving each class's F1 as here, and accuracy from the sum of the
TP_k over N by the same per-draw influence values (sum_k TP_k,d). Sessions have one class today.

The stop rule: "F1 is at least X with 95% confidence" is the one-sided t bound, and "another 50
labels would narrow it by about Y" shrinks the interval's half-width by (M_eff / (M_eff + dM))^1.4
for the dM audit draws those labels bring, around the unclipped estimate, clipped to [0, 1] as the
interval is: the strategy labels among the 50 sharpen p too, so the width shrinks faster than
1 / sqrt(M). The exponent makes the mean projected width equal the width measured 50 labels later
in the service's Food-101 sessions of split seeds 0-4 (BENCHMARKS.md checks it on other seeds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
NU0 = 10.0
STOP_ALPHA = 1.4


@dataclass(frozen=True)
class Known:
    """Exact parts: the classifier's positives over the dataset, and the sums of h y and y over
    the labeled items (S and the audit draws)."""

    predicted_positive: int
    tp: float
    positives: float
    items: int
    labeled: int


@dataclass(frozen=True)
class Pool:
    """Sums over the unlabeled items U (audit draws waiting for a label included).

    p, hp      sum of p, of h p
    ez         sum of E z = pv - p over h = 1 and h = 0
    ez2_q      per design b, sum of E z^2 / q_b over h = 1 and h = 0: shape (B, 2), where
               E z^2 = pv (1 - pv) + (pv - p)^2 and q_b is design b's weight of the item"""

    n: int
    p: float
    hp: float
    ez: np.ndarray
    ez2_q: np.ndarray

    @classmethod
    def of(cls, h, p, pv, designs) -> Pool:
        """From arrays over U; `designs` yields each design's q over U (one array at a time)."""
        h, p, pv = np.asarray(h, bool), np.asarray(p, np.float64), np.asarray(pv, np.float64)
        ez, ez2 = pv - p, pv * (1 - pv) + (pv - p) ** 2
        per = []
        for q in designs:
            r = ez2 / np.maximum(np.asarray(q, np.float64), 1e-300)
            per.append([r[h].sum(), r[~h].sum()])
        return cls(
            len(h),
            float(p.sum()),
            float(p[h].sum()),
            np.array([ez[h].sum(), ez[~h].sum()]),
            np.asarray(per, np.float64).reshape(-1, 2),
        )


@dataclass(frozen=True)
class Draws:
    """The labeled audit draws, in the order drawn (M of them, B designs).

    y, h, p, pv  the label, the decision, the predictor and pv at the drawn item
    pi           the draw's probability when drawn
    design       the index (0..B-1) of the design that drew it
    normalizer   the design's q summed over the draw's pool: pi = q_design(I_d) / normalizer
    q            (M, B): each design's q at each drawn item"""

    y: np.ndarray
    h: np.ndarray
    p: np.ndarray
    pv: np.ndarray
    pi: np.ndarray
    design: np.ndarray
    normalizer: np.ndarray
    q: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def from_arrays(h, y, p, pv, known, drawn, pi, design, normalizer, designs) -> tuple[Known, Pool, Draws]:
    """The estimator's inputs from per-item arrays over all N items: h, y (read on labeled items
    only), p, pv; `known` marks S; `drawn`: the labeled draws' item indices in the order drawn,
    with their probability `pi`, design index and normalizer; `designs` yields each design's q
    over all N items (design 0 first; only the pool's values are read)."""
    h, y, known = np.asarray(h, bool), np.asarray(y, bool), np.asarray(known, bool)
    drawn, design = np.asarray(drawn, np.int64), np.asarray(design, np.int64)
    unlabeled = ~known
    unlabeled[drawn] = False
    labeled = ~unlabeled
    first = {int(b): int(np.flatnonzero(design == b)[0]) for b in np.unique(design)}
    q_at = np.zeros((len(drawn), len(first)))

    def over_pool():
        for b, q in enumerate(designs):
            q = np.asarray(q, np.float64)
            if b in first:  # draws before the design's batch were not in its pool: q = 0 there
                q_at[first[b] :, b] = q[drawn[first[b] :]]
            yield q[unlabeled]

    pool = Pool.of(h[unlabeled], p[unlabeled], pv[unlabeled], over_pool())
    known_sums = Known(
        int(h.sum()), float(np.sum(h & y & labeled)), float(np.sum(y & labeled)), len(h), int(labeled.sum())
    )
    sample = Draws(
        y[drawn], h[drawn], np.asarray(p)[drawn], np.asarray(pv)[drawn], np.asarray(pi, np.float64), design,
        np.asarray(normalizer, np.float64), q_at,
    )  # fmt: skip
    return known_sums, pool, sample


def _suffix(v: np.ndarray) -> np.ndarray:
    """sum over d' >= d, for every d."""
    return np.cumsum(v[::-1])[::-1]


def per_draw_totals(known: Known, pool: Pool, draws: Draws) -> tuple[np.ndarray, np.ndarray]:
    """(TP_d, P_d): each draw's unbiased estimate of TP and P (module docstring)."""
    y, h = draws.y.astype(np.float64), draws.h.astype(np.float64)
    z = y - draws.p
    tp = known.tp + pool.hp + h * z / draws.pi - _suffix(h * z)
    p = known.positives + pool.p + z / draws.pi - _suffix(z)
    return tp, p


def model_variance(pool: Pool, draws: Draws, on: float, off: float, actual: bool = True) -> np.ndarray:
    """Each draw's model-based variance of its estimate of sum c y, for c = `on` where h = 1 and
    `off` where h = 0: normalizer (sum over U and the later draws of c^2 E z^2 / q) - (sum c E z)^2,
    with the drawn items' actual z (`actual`), else their model E z as on U."""
    c = np.where(draws.h, on, off)
    if actual:
        ez = draws.y.astype(np.float64) - draws.p
        ez2 = ez**2
    else:
        ez, ez2 = draws.pv - draws.p, draws.pv * (1 - draws.pv) + (draws.pv - draws.p) ** 2
    rows = np.arange(len(draws))
    # Design b's q at the draws from d on (all in b's pool when d is b's; q = 0 marks the draws
    # made before b, never read for it): a suffix sum per design, read at d's own design.
    q = draws.q
    term = np.where(q > 0, (c**2 * ez2)[:, None] / np.where(q > 0, q, 1.0), 0.0)
    later_sq = np.cumsum(term[::-1], axis=0)[::-1]
    sq = on**2 * pool.ez2_q[draws.design, 0] + off**2 * pool.ez2_q[draws.design, 1] + later_sq[rows, draws.design]
    mean = on * pool.ez[0] + off * pool.ez[1] + _suffix(c * ez)
    return np.maximum(draws.normalizer * sq - mean**2, 1e-12)


def _t(q: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(q, df))


def estimate(known: Known, pool: Pool, draws: Draws, level: float = LEVEL, nu0: float = NU0) -> dict | None:
    """Precision, recall, F1 and positives over the whole dataset, each with a `level` interval,
    and the F1 lower bound at `level` one-sided; None with fewer than 2 draws."""
    M = len(draws)
    pp = known.predicted_positive
    if pool.n == 0:  # every item labeled: the figures are exact
        return _exact(known)
    if M < 2:
        return None
    tp_d, p_d = per_draw_totals(known, pool, draws)
    # Weights fixed before the labels count: inverse model variance of F1 at an equal-weight pilot.
    p0, tp0 = float(p_d.mean()), float(tp_d.mean())
    f0 = float(np.clip(2 * tp0 / max(pp + p0, 1e-9), 0, 1))
    g0 = 2 / max(pp + p0, 1e-9)
    w = 1 / model_variance(pool, draws, g0 * (1 - f0 / 2), -g0 * f0 / 2, actual=False)
    w = w / w.sum()
    m_eff = float(1 / np.sum(w**2))
    tp, p = float(w @ tp_d), float(w @ p_d)
    g = 2 / max(pp + p, 1e-9)
    f1 = g * tp
    rec = tp / p if p > 0 else float("nan")
    # Influence values and the coefficients (on h = 1, h = 0) of the same linearized quantities.
    quantities = {
        "f1": (g * (tp_d - f1 / 2 * p_d), g * (1 - f1 / 2), -g * f1 / 2),
        "tp": (tp_d, 1.0, 0.0),
        "positives": (p_d, 1.0, 1.0),
        "recall": ((tp_d - rec * p_d) / p, (1 - rec) / p, -rec / p) if p > 0 else None,
    }
    half, se, df = {}, {}, {}
    for name, spec in quantities.items():
        if spec is None:
            continue
        infl, on, off = spec
        v_emp = float(np.sum(w**2 * (infl - w @ infl) ** 2) * M / (M - 1))
        v_mod = float(np.sum(w**2 * model_variance(pool, draws, on, off)))
        df[name] = nu0 + m_eff - 1
        se[name] = float(np.sqrt((nu0 * v_mod + (m_eff - 1) * v_emp) / df[name]))
        half[name] = _t(1 - (1 - level) / 2, df[name]) * se[name]
    out = _base(known) | {"audited": M, "m_eff": m_eff}
    out |= _interval("f1", f1, half["f1"], 0.0, 1.0)
    out["f1_at_least"] = max(0.0, f1 - _t(level, df["f1"]) * se["f1"])
    out["f1_se"], out["f1_df"], out["f1_raw"] = se["f1"], df["f1"], f1
    if pp:
        out |= _interval("precision", tp / pp, half["tp"] / pp, 0.0, 1.0)
    else:
        out |= _interval("precision", None, 0, 0, 0)
    out |= _interval("recall", rec if p > 0 else None, half.get("recall", 0.0), 0.0, 1.0)
    out |= _interval("positives", p, half["positives"], float(known.positives), float(known.items))
    return out


def _interval(name: str, value, half: float, low: float, high: float) -> dict:
    if value is None or not np.isfinite(value):
        return {name: None, f"{name}_low": None, f"{name}_high": None}
    return {
        name: float(np.clip(value, low, high)),
        f"{name}_low": float(np.clip(value - half, low, high)),
        f"{name}_high": float(np.clip(value + half, low, high)),
    }


def _base(known: Known) -> dict:
    return {"items": known.items, "labeled": known.labeled, "predicted_positive": known.predicted_positive}


def _exact(known: Known) -> dict:
    tp, p, pp = known.tp, known.positives, known.predicted_positive
    out = _base(known) | {"audited": None, "m_eff": None, "f1_se": 0.0, "f1_df": None}
    f1 = 2 * tp / (pp + p) if pp + p else None
    out |= _interval("f1", f1, 0.0, 0.0, 1.0)
    out["f1_at_least"] = out["f1"]
    out |= _interval("precision", tp / pp if pp else None, 0.0, 0.0, 1.0)
    out |= _interval("recall", tp / p if p else None, 0.0, 0.0, 1.0)
    out |= _interval("positives", p, 0.0, p, p)
    return out


def stop_rule(est: dict, more_audit: float, more_labels: int, level: float = LEVEL, alpha: float = STOP_ALPHA) -> dict:
    """'F1 is at least X with `level` confidence' and 'another `more_labels` labels (`more_audit`
    audit draws among them) would narrow the interval by about Y'. The projection shrinks the
    interval's half-width around the unclipped estimate, then clips to [0, 1] as the interval is."""
    if est.get("f1") is None:
        return {"f1_at_least": None, "width": None, "width_after": None, "narrow_by": None}
    width = est["f1_high"] - est["f1_low"]
    m_eff = est.get("m_eff")
    if not m_eff or more_audit <= 0:  # exact, or no audit draws to come: nothing narrows
        after = width
    else:
        half = _t(1 - (1 - level) / 2, est["f1_df"]) * est["f1_se"] * (m_eff / (m_eff + more_audit)) ** alpha
        center = est.get("f1_raw", est["f1"])
        after = min(width, max(0.0, min(1.0, center + half) - max(0.0, center - half)))
    return {"f1_at_least": est["f1_at_least"], "width": width, "width_after": after, "narrow_by": width - after}
