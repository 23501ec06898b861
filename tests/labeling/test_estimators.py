"""The audit estimator against closed forms and known answers, without a database: the
posterior of a simple random sample is the beta-binomial, fully labeled data give the exact
figures, and under an adaptive design (a strategy picking items on purpose between uniform
audit draws) the 95% intervals cover the truth about 95% of the time."""

import numpy as np
import pytest
from scipy.stats import betabinom

from vectrain.labeling.estimators import Labels, draws_by_stratum, estimate, stop_hint, stratum_posterior


def srs_labels(n_items, m, k, predicted=False):
    """m audit draws of one batch, k of them positive, nothing else labeled."""
    positive = np.zeros(m, bool)
    positive[:k] = True
    np.random.default_rng(1).shuffle(positive)
    return Labels.of(
        predicted=np.full(m, predicted),
        positive=positive,
        first=np.full(m, 100),
        audit=np.ones(m, bool),
        draw=np.full(m, 50),
        position=np.arange(m),
    )


@pytest.mark.parametrize("n_items, m, k", [(300, 40, 7), (60, 60, 3), (500, 25, 0), (100, 10, 10)])
def test_simple_random_sample_posterior_is_the_beta_binomial(n_items, m, k):
    labels = srs_labels(n_items, m, k)
    draws = draws_by_stratum(labels)[False]
    assert len(draws) == m and sorted(draws.d1[draws.positive]) == list(range(1, k + 1))
    post = stratum_posterior(n_items - m, draws)
    values, probs = post.values, post.probs
    want = betabinom.pmf(values, n_items - m, k + 0.5, m - k + 0.5)
    np.testing.assert_allclose(probs, want, rtol=1e-9, atol=1e-300)


def test_a_large_stratum_uses_a_refined_grid_with_the_same_quantiles():
    n_items, m, k = 400_000, 60, 4
    post = stratum_posterior(n_items - m, draws_by_stratum(srs_labels(n_items, m, k))[False])
    values, probs = post.values, post.probs
    assert len(values) <= 4001
    cdf = np.cumsum(probs)
    spacing = np.max(np.diff(values))
    for q in (0.025, 0.5, 0.975):
        got = values[np.searchsorted(cdf, q)]
        want = betabinom.ppf(q, n_items - m, k + 0.5, m - k + 0.5)
        assert abs(got - want) <= spacing + 1, (q, got, want)


def test_estimate_of_a_random_sample_matches_the_closed_form():
    n_items, m, k = 2000, 80, 12
    labels = srs_labels(n_items, m, k)  # a classifier that predicts nothing: F1 0, recall 0
    est = estimate(labels, n_items, predicted_positive=0)
    dist = betabinom(n_items - m, k + 0.5, m - k + 0.5)
    # The point estimate is the maximum-likelihood (Horvitz-Thompson) total: N k / m, rounded down.
    assert est["positives"] == np.floor(k * (n_items + 1) / m)
    # One uncertain stratum: its 95% interval, exactly the beta-binomial's quantiles.
    assert est["positives_low"] == k + dist.ppf(0.025) and est["positives_high"] == k + dist.ppf(0.975)
    assert est["recall"] == 0.0 and est["f1"] == 0.0 and est["precision"] is None
    assert est["audited"] == m


def test_fully_labeled_data_give_the_exact_figures():
    rng = np.random.default_rng(0)
    pred, pos = rng.random(500) < 0.3, rng.random(500) < 0.25
    audit = rng.random(500) < 0.2
    labels = Labels.of(pred, pos, first=np.arange(500), audit=audit, draw=np.arange(500), position=np.zeros(500))
    est = estimate(labels, 500, predicted_positive=int(pred.sum()))
    tp, fp, fn = np.sum(pred & pos), np.sum(pred & ~pos), np.sum(~pred & pos)
    assert est["precision"] == est["precision_low"] == est["precision_high"] == pytest.approx(tp / (tp + fp))
    assert est["recall"] == pytest.approx(tp / (tp + fn)) and est["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert est["positives"] == est["positives_low"] == est["positives_high"] == pos.sum()


def test_labels_after_a_draw_are_in_its_pool_and_earlier_draws_are_not():
    # time: draw A (t=10), strategy labels x (t=20), draw B (t=30), strategy label y (t=40)
    labels = Labels.of(
        predicted=[False] * 4,
        positive=[True, True, True, False],
        first=[11, 20, 31, 40],
        audit=[True, False, True, False],
        draw=[10, 0, 30, 0],
        position=[0, 0, 0, 0],
    )
    draws = draws_by_stratum(labels)[False]
    # A's pool held itself, x, B (positives) and y (negative); B's held itself and y.
    assert list(draws.d1) == [3, 1] and list(draws.d0) == [1, 1]


def test_items_the_classifier_trained_on_enter_the_pools_as_unseen():
    """A positive the strategy labeled after draw A is predicted positive by the classifier that
    trained on it, but a classifier that had not seen it (cross-fitted) says negative: it was in
    draw A's pool as a hidden positive of the predicted-negative stratum, and counts there."""
    labels = Labels.of(
        predicted=[False, True, False],
        positive=[False, True, False],
        first=[11, 20, 40],
        audit=[True, False, False],
        draw=[10, 0, 0],
        position=[0, 0, 0],
        unseen=[False, False, False],
    )
    draws = draws_by_stratum(labels)[False]
    assert list(draws.d1) == [1] and list(draws.d0) == [2]
    trained = Labels.of(
        predicted=[False, True, False],
        positive=[False, True, False],
        first=[11, 20, 40],
        audit=[True, False, False],
        draw=[10, 0, 0],
        position=[0, 0, 0],
    )
    assert list(draws_by_stratum(trained)[False].d1) == [0]


def simulate(rng, n=1500, rounds=12, strategy_k=8, audit_k=2):
    """A classifier with a known score; each round a strategy labels the top unlabeled items by
    score (on purpose, adaptive: it skips what the audit took), after a uniform audit draw."""
    score = rng.normal(size=n)
    truth = rng.random(n) < 1 / (1 + np.exp(-(3 * score - 4)))  # ~10% positives, errors both ways
    pred = score > 1.0
    labeled = np.zeros(n, bool)
    first = np.zeros(n, np.int64)
    audit = np.zeros(n, bool)
    draw = np.zeros(n, np.int64)
    position = np.zeros(n, np.int64)
    clock = 0
    for _ in range(rounds):
        clock += 10
        pool = np.flatnonzero(~labeled)
        picks = rng.choice(pool, size=audit_k, replace=False)
        audit[picks], draw[picks], position[picks] = True, clock, np.arange(audit_k)
        labeled[picks], first[picks] = True, clock + 1
        rest = np.flatnonzero(~labeled)
        top = rest[np.argsort(-score[rest])[:strategy_k]]
        labeled[top], first[top] = True, clock + 2
    idx = np.flatnonzero(labeled)
    labels = Labels.of(pred[idx], truth[idx], first[idx], audit[idx], draw[idx], position[idx])
    tp, pp, p = np.sum(pred & truth), pred.sum(), truth.sum()
    return labels, n, int(pp), {"positives": p, "f1": 2 * tp / (pp + p), "recall": tp / p, "precision": tp / pp}


def test_intervals_cover_the_truth_under_an_adaptive_design():
    rng = np.random.default_rng(42)
    hits = {name: 0 for name in ("positives", "f1", "recall", "precision")}
    runs = 150
    for _ in range(runs):
        labels, n, pp, truth = simulate(rng)
        est = estimate(labels, n, pp)
        for name in hits:
            hits[name] += est[f"{name}_low"] <= truth[name] <= est[f"{name}_high"]
    coverage = {name: h / runs for name, h in hits.items()}
    assert all(c >= 0.9 for c in coverage.values()), coverage


def test_ignoring_the_design_would_be_wrong():
    """Audit items treated as a sample of the items unlabeled NOW (the naive reading) overstate the
    positives left: the strategy took most of them after the draws. The estimate is unbiased."""
    rng = np.random.default_rng(7)
    ours, naive, truths = [], [], []
    for _ in range(150):
        labels, n, pp, truth = simulate(rng, rounds=15)
        ours.append(estimate(labels, n, pp)["positives"])
        unlabeled = n - len(labels)
        rate = labels.positive[labels.audit].mean()
        naive.append(labels.positive.sum() + rate * unlabeled)
        truths.append(truth["positives"])
    ours, naive, truths = np.array(ours), np.array(naive), np.array(truths)
    se = np.std(ours - truths) / np.sqrt(len(truths))
    assert abs(np.mean(ours - truths)) < 3 * se  # unbiased, within noise
    assert np.mean(naive - truths) > 5 * se  # the naive reading is not


def test_stop_hint():
    assert stop_hint(0.80, 0.95, 0.9, [0.9, 0.9, 0.9], 0.1, 0.02, 3)[0] is False  # too wide
    assert stop_hint(0.86, 0.94, 0.9, [0.9, 0.9], 0.1, 0.02, 3)[0] is False  # too few rounds
    stop, why = stop_hint(0.86, 0.94, 0.9, [0.8, 0.9, 0.91, 0.89], 0.1, 0.02, 3)
    assert stop and "0.080 wide" in why
    assert stop_hint(0.86, 0.94, 0.9, [0.85, 0.9, 0.9], 0.1, 0.02, 3)[0] is False  # moved 0.05
    assert stop_hint(None, None, None, [], 0.1, 0.02, 3)[0] is False
