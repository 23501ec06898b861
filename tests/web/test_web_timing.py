"""Responsiveness at 25k rows in a real headless Chromium: Enter -> the next batch with its
thumbnails on screen, measured by the page itself (window.vectrain.timings), six rounds."""

from __future__ import annotations

import os
import statistics
import uuid

import numpy as np

from tests.web.pages import keys, skip_without_a_browser, stored_labels, text, thumbs_settled, tile_ids, tiles, wait

skip_without_a_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

SYN_ROWS, SYN_DIM, SYN_CLUSTERS = 25_000, 512, 20
TARGET_MS = 500  # Enter -> the next batch on screen, on this 2-core machine with nothing else running


def load_synthetic(store, name="syn25k"):
    """25k clustered 512-d unit vectors (the size of CLIP ViT-B/32's) through the real writer."""
    from vectrain.loaders.writer import DatasetWriter

    rng = np.random.default_rng(7)
    centers = rng.normal(size=(SYN_CLUSTERS, SYN_DIM)).astype(np.float32)
    cluster = rng.integers(0, SYN_CLUSTERS, size=SYN_ROWS)
    vectors = centers[cluster] + 0.8 * rng.normal(size=(SYN_ROWS, SYN_DIM)).astype(np.float32)
    ids = [f"syn/{i:05d}" for i in range(SYN_ROWS)]  # ids with '/': encoded per segment by the page
    writer = DatasetWriter(store, name, SYN_DIM, "features", total=SYN_ROWS, progress=False)
    writer.write(
        ids=ids, vectors=vectors, labels=[f"c{c}" for c in cluster], urls=[""] * SYN_ROWS, splits=["train"] * SYN_ROWS
    )
    writer.finish()
    return dict(zip(ids, (f"c{c}" for c in cluster)))


def test_next_batch_on_screen_within_500_ms_at_25k_rows(live, driver, web_store):
    import httpx

    labels_of = load_synthetic(web_store)
    positives = [i for i, c in labels_of.items() if c == "c0"][:2]
    created = httpx.post(
        f"{live.url}sessions",
        json={"dataset": "syn25k", "name": f"c0_{uuid.uuid4().hex[:6]}", "positive_ids": positives},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    load_before = os.getloadavg()[0]
    d = driver
    d.get("about:blank")
    d.get(f"{live.url}#d=syn25k&s={session_id}&t=label")
    wait(
        d,
        lambda d: (
            (ids := tile_ids(d, "label-grid"))
            and len(ids) == 10
            and all(i.startswith("syn/") for i in ids)
            and thumbs_settled(d, "label-grid")
        ),
        what="the batch",
    )
    rounds = 6
    for r in range(rounds):
        ids = tile_ids(d, "label-grid")
        tiles(d, "label-grid")[0].click()
        keys(d, Keys.ESCAPE)
        keys(d, *["1" if labels_of[i] == "c0" else "0" for i in ids])
        keys(d, Keys.ENTER)
        wait(
            d,
            lambda d: d.find_element(By.ID, "stat-round").text == str(r + 1) and tile_ids(d, "label-grid") != ids,
            what=f"round {r + 1}",
        )
        wait(d, lambda d: len(d.execute_script("return window.vectrain.timings")) == r + 1, what="the timing")
    timings = d.execute_script("return window.vectrain.timings")
    ms = [t["ms"] for t in timings]
    median = statistics.median(ms)
    steps = {k: statistics.median(t[k] for t in timings) for k in ("labels", "train", "next", "thumbnails")}
    print(
        f"\nEnter -> next batch with thumbnails on screen, {SYN_ROWS:,} rows x {SYN_DIM} dims, k=10 mixed: "
        f"median {median:.0f} ms, max {max(ms)} ms, each {ms}; median per step (ms): {steps}"
    )
    assert stored_labels(web_store, session_id).keys() >= set(positives)
    assert len(stored_labels(web_store, session_id)) == 2 + 10 * rounds
    # With nothing marked in the new batch, z takes back the batch sent last: one step, ten labels.
    keys(d, "z")
    wait(d, lambda d: text(d, "status").startswith("Undone: the labels of 10 items"), what="undo")
    assert not set(ids) & set(stored_labels(web_store, session_id))
    assert len(stored_labels(web_store, session_id)) == 2 + 10 * (rounds - 1)
    # Other processes (a second test worker) stretch every step alike: with n runnable processes
    # a core, a CPU-bound step takes about n times as long (load 1.4 a core: a median of 582 ms,
    # 224 ms alone). The bound scales with the load, up to 4x, and still catches a stalled page.
    load = max(load_before, os.getloadavg()[0]) / (os.cpu_count() or 1)
    limit = TARGET_MS * min(4.0, max(1.0, load))
    print(
        f"load average per core {load:.1f}: asserting a median <= {limit:.0f} ms"
        + ("" if limit == TARGET_MS else f" (the machine is busy with other work; the target is {TARGET_MS} ms)")
    )
    assert median <= limit, f"the next batch took {ms} ms after Enter (median {median:.0f} ms; limit {limit} ms)"
