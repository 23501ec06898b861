"""Find's filters in a real headless Chromium: the dataset's label and split, labeled or not in
the open session, and a range of its classifier's prediction narrow the sample and "more like
this", with exact counts that match the database."""

from __future__ import annotations

import re

import httpx
import numpy as np

from tests.web.pages import (
    keys,
    label_and_train,
    new_session,
    no_page_errors,
    open_page,
    skip_without_a_browser,
    stored_labels,
    text,
    thumbs_settled,
    tile_ids,
    tile_texts,
    tiles,
    truth,
    wait,
)

skip_without_a_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402


def count(store, where, **params):
    return store.client.query(
        f"SELECT count() FROM `{store.database}`.items_digits WHERE {where}", parameters=params
    ).result_rows[0][0]


def title_count(d):
    return int(re.match(r"([\d,]+) items ", text(d, "find-title")).group(1).replace(",", ""))


def test_filters_narrow_the_sample_with_exact_counts(live, driver, web_store, shots):
    store = web_store
    labels_of = truth(store)
    zeros = sorted(i for i, c in labels_of.items() if c == "0")
    sid = new_session(live, zeros[:2], prefix="flt")["id"]
    labeled = {**{i: 1.0 for i in zeros[2:12]}, **{i: -1.0 for i, c in sorted(labels_of.items()) if c == "6"}}
    label_and_train(live, sid, labeled)
    d = driver
    open_page(d, f"{live.url}#s={sid}&t=find")
    wait(d, lambda d: len(tiles(d, "find-grid")) == 30, what="the sample")
    assert "1,797 items" in text(d, "find-title")

    # The dataset's label: every tile is a zero, and the count is the database's.
    Select(d.find_element(By.ID, "f-label")).select_by_value("=0")
    wait(d, lambda d: "with label 0" in text(d, "find-title"), what="label 0")
    assert title_count(d) == count(store, "label = '0'") == 178
    assert set(tile_texts(d, "find-grid", ".label")) == {"0"}
    # ... and the split.
    Select(d.find_element(By.ID, "f-split")).select_by_value("=test")
    wait(d, lambda d: "in split test" in text(d, "find-title"), what="split test")
    assert title_count(d) == count(store, "label = '0' AND split = 'test'")
    # Labeled in the session, or not: counted against the stored labels.
    Select(d.find_element(By.ID, "f-labeled")).select_by_value("no")
    wait(d, lambda d: "not labeled in this session" in text(d, "find-title"), what="not labeled")
    zeros_in_test = {i for i in zeros if count(store, "id = {i:String} AND split = 'test'", i=i)}
    assert title_count(d) == len(zeros_in_test - set(zeros[:12]))
    assert not set(tile_ids(d, "find-grid")) & set(zeros[:12])
    wait(d, lambda d: all(y == "you \u2013" for y in tile_texts(d, "find-grid", ".yours")), what="no labels shown")

    # A range of the prediction (score - threshold) under the latest round, counted with numpy.
    d.find_element(By.ID, "f-clear").click()
    wait(d, lambda d: "1,797 items" in text(d, "find-title"), what="cleared")
    d.find_element(By.ID, "f-min").send_keys("0", Keys.ENTER)
    wait(d, lambda d: "pred \u2265 0" in text(d, "find-title"), what="the positives")
    weights = httpx.get(f"{live.url}sessions/{sid}/weights").json()
    rows = store.client.query(f"SELECT id, vector FROM `{store.database}`.items_digits").result_rows
    margins = np.asarray([r[1] for r in rows], np.float64) @ np.asarray(weights["weights"], np.float64)
    margins += weights["bias"] - weights["threshold"]
    assert abs(title_count(d) - int((margins >= 0).sum())) <= 1  # a float32 tie at the threshold at most
    wait(d, lambda d: all(p.startswith("pred pos") for p in tile_texts(d, "find-grid", ".pred")), what="positives")
    # What is left to review: predicted positive and not labeled yet.
    Select(d.find_element(By.ID, "f-labeled")).select_by_value("no")
    wait(d, lambda d: "not labeled in this session, with pred \u2265 0" in text(d, "find-title"), what="left to review")
    unlabeled = [i for (i, _), m in zip(rows, margins) if m >= 0 and i not in stored_labels(store, sid)]
    assert abs(title_count(d) - len(unlabeled)) <= 1
    wait(d, lambda d: thumbs_settled(d, "find-grid") and all(tile_texts(d, "find-grid", ".pred")), what="tiles")
    d.save_screenshot(str(shots / "find-filters.png"))
    Select(d.find_element(By.ID, "f-labeled")).select_by_value("any")

    # More like this keeps the filters: the nearest zeros-or-not among the filtered items only.
    Select(d.find_element(By.ID, "f-label")).select_by_value("=0")
    d.find_element(By.ID, "f-min").clear()
    d.find_element(By.ID, "f-min").send_keys(Keys.ENTER)
    wait(d, lambda d: "pred" not in text(d, "find-title") and "label 0" in text(d, "find-title"), what="label 0")
    tiles(d, "find-grid")[0].click()
    keys(d, Keys.ESCAPE, "m")
    wait(d, lambda d: text(d, "find-title").startswith("More like"), what="more like this")
    assert "among the 178 items with label 0" in text(d, "find-title")
    assert set(tile_texts(d, "find-grid", ".label")) == {"0"} and len(tiles(d, "find-grid")) == 30

    # A filter change runs the search shown again; the sample, filtered, pages.
    Select(d.find_element(By.ID, "f-label")).select_by_value("=1")
    wait(d, lambda d: "among the 182 items with label 1" in text(d, "find-title"), what="more like, refiltered")
    d.find_element(By.ID, "sample-button").click()
    wait(d, lambda d: "showing 1–30" in text(d, "find-title") and "label 1" in text(d, "find-title"), what="page 1")
    first = tile_ids(d, "find-grid")
    d.find_element(By.ID, "find-next").click()
    wait(d, lambda d: "showing 31–60" in text(d, "find-title"), what="page 2")
    assert not set(tile_ids(d, "find-grid")) & set(first)
    no_page_errors(d)
