"""The Jobs view in a real headless Chromium: loads of a file under the load roots and of an
upload, with their progress bars, cancel, and a refused load whose error stays on screen while
the view keeps polling."""

from __future__ import annotations

import time

import numpy as np

from bench.server import LiveServer
from tests.web.pages import no_page_errors, shown, skip_without_a_browser, text, wait

skip_without_a_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from vectrain.api.app import create_app  # noqa: E402


def test_jobs_view_starts_loads_and_shows_their_progress(driver, web_store, tmp_path, monkeypatch):
    import httpx

    from tests.fixtures import clustered

    root = tmp_path / "root"
    root.mkdir()
    vectors, _ = clustered(6_000, 16, 4)
    np.savez(root / "feats.npz", vectors=vectors, ids=np.array([f"w{i:05d}" for i in range(len(vectors))]))
    # Small inserts and no index build: the load runs long enough to be seen part way, and ends soon.
    for name, value in {
        "load_roots": str(root),
        "data_dir": tmp_path / "data",
        "insert_batch_rows": 25,
        "ann_index_max_dim": 8,
        "job_progress_seconds": 0.2,
    }.items():
        monkeypatch.setattr(web_store.settings, name, value)
    with LiveServer(create_app(web_store.settings, web_store)) as server:
        d = driver
        d.get("about:blank")
        d.get(f"{server.url}#t=jobs")
        wait(d, lambda d: str(root) in d.find_element(By.ID, "load-roots").text, what="the load roots")

        def start(name, source, path="", upload=None):
            d.find_element(By.ID, "load-dataset").clear()
            d.find_element(By.ID, "load-dataset").send_keys(name)
            Select(d.find_element(By.ID, "load-source")).select_by_value(source)
            d.find_element(By.ID, "load-path").clear()
            d.find_element(By.ID, "load-path").send_keys(path)
            if upload:
                d.find_element(By.ID, "load-file").send_keys(str(upload))
            d.find_element(By.CSS_SELECTOR, "#load-form button[type=submit]").click()

        def job_row(state=None):
            return d.execute_script(
                "const li = document.querySelector('#job-list .job'); if (!li) return null;"
                "const bar = li.querySelector('progress');"
                "return {id: li.dataset.id, state: li.dataset.state, text: li.textContent, "
                "value: bar.value, max: bar.max, cancel: !!li.querySelector('button[data-cancel]')}"
            )

        # A file under the load roots, followed with its progress bar, then cancelled from the page.
        start("webjobs", "features", "feats.npz")
        wait(
            d,
            lambda d: (r := job_row()) and r["state"] == "running" and 0 < r["value"] < r["max"] == 6000,
            timeout=30,
            what="a running load with its progress bar part way",
        )
        running = job_row()
        assert "of 6,000" in running["text"] and running["cancel"]
        d.find_element(By.CSS_SELECTOR, "#job-list .job button[data-cancel]").click()
        wait(d, lambda d: job_row()["state"] == "cancelled", what="the cancelled load")
        assert "What was stored stays" in job_row()["text"]
        stored = httpx.get(f"{server.url}datasets/webjobs").json()["rows"]
        assert 0 < stored < 6000

        # The same file uploaded: the rerun adds only what is missing; the dataset menu shows it.
        start("webjobs", "features", upload=root / "feats.npz")
        wait(
            d,
            lambda d: job_row()["state"] == "done" and job_row()["id"] != running["id"],
            timeout=60,
            what="the uploaded load",
        )
        done = job_row()
        assert done["value"] == done["max"] == 6000 and f"loaded {6000 - stored}, skipped {stored}" in done["text"]
        wait(
            d,
            lambda d: (
                "webjobs"
                in d.execute_script("return [...document.querySelectorAll('#dataset-select option')].map(o => o.value)")
            ),
            what="the new dataset in the menu",
        )
        assert "done" in d.find_element(By.ID, "status").text

        # Outside the roots: the API's refusal is shown, and stays while the view polls its jobs
        # every 600 ms (it used to vanish at the next poll), until it is dismissed.
        polls = d.execute_script(
            "return performance.getEntriesByType('resource').filter(e => /jobs\\?/.test(e.name)).length"
        )
        start("webjobs2", "features", "../feats.npz")
        wait(d, lambda d: shown(d, "error"), what="the refusal")
        assert "outside the folders this service loads from" in text(d, "error-text")
        time.sleep(2.5)
        later = d.execute_script(
            "return performance.getEntriesByType('resource').filter(e => /jobs\\?/.test(e.name)).length"
        )
        assert later >= polls + 3, (polls, later)  # the view kept polling meanwhile
        assert shown(d, "error") and "outside the folders" in text(d, "error-text")
        d.find_element(By.ID, "error-close").click()
        assert not shown(d, "error")
        # A load that succeeds after a refused one replaces its error.
        start("webjobs2", "features", "../feats.npz")
        wait(d, lambda d: shown(d, "error"), what="the refusal again")
        start("webjobs2", "features", "feats.npz")
        wait(d, lambda d: not shown(d, "error"), what="the refusal replaced by the load")
        no_page_errors(d)
