"""What the first training round after a restart needs, loaded at start-up before the service
answers (VECTRAIN_WARM_UP), so the first Enter after a restart costs about what the later ones do.
Loaded in the background instead, it was still loading when a quick first Enter came, and the
round waited for it while competing with it for the interpreter.

A round loads two things once per process: training imports scipy and sets up the BLAS
controller, and the round's claim and its cross-fitted decisions are the process's first row
inserts, which import pandas (clickhouse-connect checks every insert for a DataFrame). The next
batch after a restart cost about what later ones do, so nothing of it is warmed
(bench/page_latency.py, BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import time

from vectrain.labeling import training
from vectrain.storage.store import Store

log = logging.getLogger("vectrain")


def warm_up(store: Store) -> float:
    """Load it all; returns the seconds it took. Never raises: a warm-up is only a head start."""
    started = time.perf_counter()
    try:
        training.warm_up()
        store.warm_up_inserts()
    except Exception:  # the first round pays for what failed here, and works
        log.exception("the start-up warm-up failed")
    return time.perf_counter() - started
