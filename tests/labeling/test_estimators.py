"""The estimator and its predictor without a database: every draw's estimate is exactly unbiased
(checked by enumerating every draw sequence of a small pool), simulated sessions with a design
that changes between batches give unbiased totals and 95% intervals that cover the truth, fully
labeled data give the exact figures, and the stop rule's fields hang together."""

import itertools

import numpy as np
import pytest

from vectrain.labeling import estimators, predictor
from vectrain.labeling.estimators import from_arrays, per_draw_totals


def population(rng, n=600, rate=0.12):
    """Labels, a classifier, a predictor p (a function of nothing the audit sees) and a pv."""
    y = rng.random(n) < rate
    score = np.where(y, rng.normal(1.2, 1.0, n), rng.normal(-1.2, 1.0, n))
    h = score > 0
    p = predictor.sigmoid(1.5 * score - 0.5)
    pv = predictor.sigmoid(1.2 * score - 1.0)
    return y, h, p, pv, score


def session(rng, y, h, p, pv, score, batches=8, per_batch=4, floor=0.2):
    """A strategy labels items on purpose (top scores, near the threshold) between batches of
    audit draws by the design, whose pv changes from batch to batch. Returns the estimator's inputs."""
    n = len(y)
    known, audited = np.zeros(n, bool), np.zeros(n, bool)
    drawn, pi, design, normalizer, designs = [], [], [], [], []
    for b in range(batches):
        free = np.flatnonzero(~known & ~audited)
        top = free[np.argsort(-score[free])[:3]]
        near = free[np.argsort(np.abs(score[free]))[:3]]
        known[np.r_[top, near]] = True
        pool = np.flatnonzero(~known & ~audited)
        q = np.zeros(n)
        q[pool] = predictor.design_weights(predictor.sigmoid(1.2 * score[pool] - 1.0 + 0.2 * b), floor)
        left, taken = q.copy(), 0.0
        for _ in range(per_batch):
            j = int(rng.choice(n, p=left / left.sum()))
            drawn.append(j)
            pi.append(q[j] / (1 - taken))
            normalizer.append(1 - taken)
            design.append(b)
            taken += q[j]
            left[j] = 0
            audited[j] = True
        designs.append(q)
    return from_arrays(h, y, p, pv, known, drawn, pi, design, normalizer, designs)


def truths(y, h):
    tp, pp, p = np.sum(h & y), h.sum(), y.sum()
    return {"tp": tp, "positives": p, "f1": 2 * tp / (pp + p), "precision": tp / pp, "recall": tp / p}


def test_every_draw_is_exactly_unbiased_over_all_its_sequences():
    """Two sequential draws from a pool of 6 by unequal weights, one item already known:
    averaged over every ordered pair, weighted by its probability, each draw's TP_d and P_d equal
    the true totals (the identity behind the estimator, with no sampling noise)."""
    y = np.array([1, 0, 1, 0, 0, 1, 1], bool)
    h = np.array([1, 1, 0, 0, 1, 0, 1], bool)
    p = np.array([0.9, 0.4, 0.3, 0.1, 0.6, 0.2, 0.8])
    known = np.zeros(7, bool)
    known[6] = True
    q = np.zeros(7)
    q[:6] = predictor.design_weights(p[:6], 0.2)
    expected = np.zeros((2, 2))
    for a, b in itertools.permutations(range(6), 2):
        prob = q[a] * q[b] / (1 - q[a])
        inputs = from_arrays(h, y, p, p, known, [a, b], [q[a], q[b] / (1 - q[a])], [0, 0], [1, 1 - q[a]], [q])
        tp, pos = per_draw_totals(inputs[0], inputs[1], inputs[2])
        expected += prob * np.stack([tp, pos])
    assert expected[0] == pytest.approx([np.sum(h & y)] * 2)
    assert expected[1] == pytest.approx([y.sum()] * 2)


def test_simulated_sessions_are_unbiased_and_their_intervals_cover():
    rng = np.random.default_rng(3)
    y, h, p, pv, score = population(rng)
    truth = truths(y, h)
    runs = 300
    errors = {"tp": [], "positives": []}
    hits = dict.fromkeys(("f1", "precision", "recall", "positives"), 0)
    for _ in range(runs):
        inputs = session(rng, y, h, p, pv, score)
        tp, pos = per_draw_totals(*inputs)
        errors["tp"].append(tp.mean() - truth["tp"])
        errors["positives"].append(pos.mean() - truth["positives"])
        est = estimators.estimate(*inputs)
        for name in hits:
            hits[name] += est[f"{name}_low"] <= truth[name] <= est[f"{name}_high"]
    for name, e in errors.items():  # unbiased: the mean error within 3 standard errors of 0
        assert abs(np.mean(e)) < 3 * np.std(e) / np.sqrt(runs), name
    coverage = {name: h_ / runs for name, h_ in hits.items()}
    assert all(c >= 0.9 for c in coverage.values()), coverage


def test_a_better_predictor_narrows_the_interval():
    rng = np.random.default_rng(5)
    y, h, _, _, score = population(rng)
    sharp = predictor.sigmoid(2.4 * score + np.log(0.12 / 0.88))  # P(y | score) of the population
    flat = np.full(len(y), y.mean())  # knows nothing but the rate
    widths = {"sharp": [], "flat": []}
    for _ in range(60):
        for name, pp in (("sharp", sharp), ("flat", flat)):
            est = estimators.estimate(*session(rng, y, h, pp, sharp, score))
            widths[name].append(est["f1_high"] - est["f1_low"])
    assert np.mean(widths["sharp"]) < 0.95 * np.mean(widths["flat"])


def test_fully_labeled_data_give_the_exact_figures():
    rng = np.random.default_rng(0)
    y, h, p, pv, _ = population(rng, n=50)
    known = np.ones(50, bool)
    est = estimators.estimate(*from_arrays(h, y, p, pv, known, [], [], [], [], []))
    truth = truths(y, h)
    for name in ("f1", "precision", "recall", "positives"):
        assert est[name] == est[f"{name}_low"] == est[f"{name}_high"] == pytest.approx(truth[name])
    assert est["audited"] is None and est["f1_at_least"] == pytest.approx(truth["f1"])


def test_too_few_draws_give_no_estimate():
    rng = np.random.default_rng(0)
    y, h, p, pv, _ = population(rng, n=50)
    q = np.full(50, 1 / 50)
    assert estimators.estimate(*from_arrays(h, y, p, pv, np.zeros(50, bool), [3], [1 / 50], [0], [1], [q])) is None


def test_the_stop_rule():
    rng = np.random.default_rng(11)
    y, h, p, pv, score = population(rng)
    est = estimators.estimate(*session(rng, y, h, p, pv, score))
    rule = estimators.stop_rule(est, more_audit=15, more_labels=50)
    assert est["f1_low"] <= rule["f1_at_least"] <= est["f1"]  # one-sided: tighter than the two-sided bound
    assert rule["width"] == pytest.approx(est["f1_high"] - est["f1_low"])
    assert 0 < rule["width_after"] < rule["width"] and rule["narrow_by"] == pytest.approx(
        rule["width"] - rule["width_after"]
    )
    more = estimators.stop_rule(est, more_audit=60, more_labels=200)
    assert more["narrow_by"] > rule["narrow_by"]
    assert estimators.stop_rule(est, more_audit=0, more_labels=50)["narrow_by"] == 0
    # Clipped at 1: the projection clips as the interval does, and never goes below zero width.
    high = {**est, "f1": 1.0, "f1_raw": 1.3, "f1_low": 0.8, "f1_high": 1.0, "f1_se": 0.05}
    assert estimators.stop_rule(high, more_audit=60, more_labels=200)["width_after"] == 0
    edge = {**est, "f1": 1.0, "f1_raw": 1.0, "f1_low": 0.8, "f1_high": 1.0, "f1_se": 0.1}
    assert 0 < estimators.stop_rule(edge, more_audit=15, more_labels=50)["width_after"] < 0.2


def test_the_knn_vote_weighs_the_most_similar_labels():
    labeled = np.array([[1, 0], [0.9, np.sqrt(1 - 0.81)], [0, 1]], np.float32)
    y = np.array([1, 1, 0])
    query = np.array([[1, 0], [0, 1]], np.float32)
    vote = predictor.knn_vote(query, labeled, y, k=2, temperature=30.0)
    assert vote[0] == pytest.approx(1.0) and vote[1] < 0.01
    # Excluded pairs (an item's own fold) do not vote.
    assert predictor.knn_vote(query[:1], labeled, y, k=3, exclude=np.array([[True, True, False]]))[0] == 0


def test_the_predictor_and_the_design_weights():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 8)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    scores = np.where(X[:, 0] > 0, 1.0, -1.0)

    def fit(Xf, sf):
        return np.eye(8)[0] * 5, 0.0

    oof, folds = predictor.out_of_fold(X, scores, fit)
    fitted = predictor.Predictor.fit(X, scores > 0, oof, folds)
    p = predictor.sigmoid(fitted.logit(X, X[:, 0] * 5))
    assert np.mean((p > 0.5) == (scores > 0)) > 0.95 and 0 < p.min() and p.max() < 1
    assert predictor.out_of_fold(X, np.r_[1.0, -np.ones(79)], fit) == (None, None)  # one positive: no folds
    q = predictor.design_weights([0.5, 0.01, 0.99, 0.2], floor=0.2)
    assert q.sum() == pytest.approx(1) and q.min() >= 0.2 / 4 and q.argmax() == 0
    assert predictor.design_weights([0.5, 0.1], floor=1.0) == pytest.approx([0.5, 0.5])
