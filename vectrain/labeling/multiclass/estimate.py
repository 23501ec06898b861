"""How accurate a multi-class session's classifier is over the dataset, from its audit labels.

Audit draws (vectrain.labeling.audit) are uniform random draws from the items unlabeled at
their time, held out of training. The latest round's accuracy on them estimates its accuracy
on the unlabeled items, with a 95% Jeffreys interval (the Beta(c + 1/2, n - c + 1/2) posterior's
2.5% and 97.5% quantiles; 0 or 1 at the ends when every draw is wrong or right). Items the
strategies labeled later came out of the pool the draws were made from; they are picked for
being hard, so the items left unlabeled are if anything easier than the draws: the estimate
does not flatter.

Over the whole dataset, the labeled items are known exactly (the round's prediction against
the label, training labels included: that is what `apply` stores for them), and the unlabeled
ones are estimated as above:

    accuracy_all = (correct among labeled + accuracy x unlabeled) / items

with the interval from the same bounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vectrain.labeling.multiclass import training
from vectrain.labeling.multiclass.labels import training_data
from vectrain.labeling.multiclass.model import ClassRound, ClassSession
from vectrain.storage.query import Query
from vectrain.storage.store import Store

LEVEL = 0.95


def jeffreys(correct: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The Jeffreys interval of a binomial proportion (Brown, Cai and DasGupta 2001)."""
    from scipy.stats import beta

    tail = (1 - level) / 2
    low = 0.0 if correct == 0 else float(beta.ppf(tail, correct + 0.5, n - correct + 0.5))
    high = 1.0 if correct == n else float(beta.ppf(1 - tail, correct + 0.5, n - correct + 0.5))
    return low, high


def _correct(X: np.ndarray, y: np.ndarray, rnd: ClassRound) -> int:
    if not len(y):
        return 0
    return int(np.sum(training.score(X, rnd.weights, rnd.biases, rnd.active).top == y))


def estimate(store: Store, session: ClassSession, rnd: ClassRound) -> dict[str, Any] | None:
    """The round's accuracy on the unlabeled items and over the whole dataset, with 95%
    intervals; None until there are VECTRAIN_ESTIMATE_MIN_AUDIT audit labels."""
    counts = store.rows(Query.named("audit.counts", session_id=session.id))[0]
    if int(counts["audited"]) < max(1, store.settings.estimate_min_audit):
        return None
    dim = int(rnd.weights.shape[1])
    _, Xa, ya = training_data(store, session, dim, audit=True)
    _, Xt, yt = training_data(store, session, dim)
    n, correct = len(ya), _correct(Xa, ya, rnd)
    low, high = jeffreys(correct, n)
    items = store.registry.count_rows(session.dataset)
    labeled = n + len(yt)
    unlabeled = max(0, items - labeled)
    known = correct + _correct(Xt, yt, rnd)

    def overall(p: float) -> float:
        return round((known + p * unlabeled) / items, 4) if items else 0.0

    pending = int(store.scalar(Query.named("audit.pending_count", session_id=session.id)) or 0)
    return {
        "round": int(rnd.round),
        "accuracy": round(correct / n, 4),
        "accuracy_low": round(low, 4),
        "accuracy_high": round(high, 4),
        "accuracy_all": overall(correct / n),
        "accuracy_all_low": overall(low),
        "accuracy_all_high": overall(high),
        "audited": n,
        "audit_pending": pending,
        "labeled": labeled,
        "items": items,
        "method": "accuracy on uniform audit draws (held out of training), Jeffreys 95% interval",
    }
