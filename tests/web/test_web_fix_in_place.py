"""Fixing a wrong prediction where it is seen, in a real headless Chromium: the label keys work
on the tiles of Results, Find and Labels, every tile shows your label beside the classifier's
prediction and the dataset's label, and the large view shows an item whole (bigger image, full
id, metadata, both labels, the prediction) and labels it too."""

from __future__ import annotations

import httpx
import numpy as np

from tests.web.pages import (
    keys,
    new_session,
    no_page_errors,
    open_page,
    shown,
    skip_without_a_browser,
    stored_labels,
    text,
    thumbs_settled,
    tile_ids,
    tile_texts,
    tiles,
    truth,
    wait,
    with_key,
)

skip_without_a_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


def caption(d, grid, item_id):
    ids = tile_ids(d, grid)
    return {
        "pred": tile_texts(d, grid, ".pred")[ids.index(item_id)],
        "yours": tile_texts(d, grid, ".yours")[ids.index(item_id)],
        "label": tile_texts(d, grid, ".label")[ids.index(item_id)],
    }


def focus_tile(d, grid, index):
    tiles(d, grid)[index].click()
    keys(d, Keys.ESCAPE)  # the click selected it: Esc leaves only the focus


def test_results_find_and_labels_take_the_label_keys(live, driver, web_store, shots):
    labels_of = truth(web_store)
    zeros = sorted(i for i, c in labels_of.items() if c == "0")[:2]
    s = new_session(live, zeros, prefix="fix")
    sid = s["id"]
    # Round 0 applied as is: its label-free threshold calls many other digits positive.
    assert httpx.post(f"{live.url}sessions/{sid}/apply", json={}, timeout=60).status_code == 200
    d = driver
    open_page(d, f"{live.url}#s={sid}&t=results")
    wait(d, lambda d: len(tiles(d, "pred-grid")) == 40 and thumbs_settled(d, "pred-grid"), what="predictions")
    top = tile_ids(d, "pred-grid")
    d.find_element(By.CSS_SELECTOR, "[data-browse=threshold]").click()  # where the mistakes are
    wait(d, lambda d: tile_ids(d, "pred-grid") != top and thumbs_settled(d, "pred-grid"), what="the threshold")
    ids = tile_ids(d, "pred-grid")
    preds = tile_texts(d, "pred-grid", ".pred")
    wrong = next(i for i, p in zip(ids, preds) if p.startswith("pred pos") and labels_of[i] != "0")
    assert caption(d, "pred-grid", wrong)["yours"] == "you \u2013"
    assert caption(d, "pred-grid", wrong)["label"] == labels_of[wrong]  # the dataset's own label

    # 0 on the wrong positive: stored at once, and the tile shows it beside the prediction.
    focus_tile(d, "pred-grid", ids.index(wrong))
    keys(d, "0")
    wait(d, lambda d: caption(d, "pred-grid", wrong)["yours"] == "you \u22121", what="the correction")
    assert caption(d, "pred-grid", wrong)["pred"].startswith("pred pos")
    assert stored_labels(web_store, sid)[wrong] == -1.0
    assert "Labeled" in text(d, "status")
    d.save_screenshot(str(shots / "results-corrected.png"))
    # Shift+1 on the next tile: a graded label; x removes it; z brings it back.
    other = ids[ids.index(wrong) + 1]
    keys(d, Keys.ARROW_RIGHT)
    with_key(d, Keys.SHIFT, "1")
    wait(d, lambda d: caption(d, "pred-grid", other)["yours"] == "you +0.5", what="a graded label")
    keys(d, "x")
    wait(d, lambda d: caption(d, "pred-grid", other)["yours"] == "you \u2013", what="the removal")
    assert other not in stored_labels(web_store, sid)
    keys(d, "z")
    wait(d, lambda d: caption(d, "pred-grid", other)["yours"] == "you +0.5", what="the removal undone")
    assert stored_labels(web_store, sid)[other] == 0.5

    # Find: the same session's labels and predictions on its tiles; a key labels there too.
    keys(d, "f")
    wait(d, lambda d: len(tiles(d, "find-grid")) == 30, what="the sample")
    wait(d, lambda d: all(p.startswith("pred ") for p in tile_texts(d, "find-grid", ".pred")), what="predictions")
    found = tile_ids(d, "find-grid")
    fresh = next(i for i in found if i not in stored_labels(web_store, sid))
    focus_tile(d, "find-grid", found.index(fresh))
    keys(d, "1")
    wait(d, lambda d: caption(d, "find-grid", fresh)["yours"] == "you +1", what="a label in Find")
    assert stored_labels(web_store, sid)[fresh] == 1.0

    # Labels: every label with the dataset's label and the current prediction.
    keys(d, "b")
    wait(d, lambda d: len(tiles(d, "labels-grid")) == len(stored_labels(web_store, sid)), what="the labels")
    wait(d, lambda d: all(p.startswith("pred ") for p in tile_texts(d, "labels-grid", ".pred")), what="predictions")
    listed = tile_ids(d, "labels-grid")
    assert tile_texts(d, "labels-grid", ".label") == [labels_of[i] for i in listed]
    assert caption(d, "labels-grid", wrong)["yours"] == "you \u22121"
    no_page_errors(d)


def test_the_large_view_shows_an_item_whole_and_labels_it(live, driver, web_store, shots):
    labels_of = truth(web_store)
    zeros = sorted(i for i, c in labels_of.items() if c == "0")[:2]
    sid = new_session(live, zeros, prefix="big")["id"]
    assert httpx.post(f"{live.url}sessions/{sid}/apply", json={}, timeout=60).status_code == 200
    d = driver
    open_page(d, f"{live.url}#s={sid}&t=results")
    wait(d, lambda d: len(tiles(d, "pred-grid")) == 40 and thumbs_settled(d, "pred-grid"), what="predictions")
    ids = tile_ids(d, "pred-grid")
    focus_tile(d, "pred-grid", 2)
    keys(d, "v")
    wait(d, lambda d: shown(d, "item-view") and text(d, "item-meta"), what="the large view")
    assert text(d, "item-id") == ids[2]
    assert text(d, "item-label") == labels_of[ids[2]]
    assert text(d, "item-yours") == "none yet" and text(d, "item-pred").startswith("pred pos")
    assert '"index"' in text(d, "item-meta") and text(d, "item-url").startswith("sklearn://digits/")
    wait(d, lambda d: d.execute_script("return document.getElementById('item-img').naturalWidth") >= 256, what="image")
    d.save_screenshot(str(shots / "large-view.png"))
    # The label keys label the item shown, arrows walk the grid, Esc closes.
    keys(d, "0")
    wait(d, lambda d: text(d, "item-yours") == "\u22121 (negative)", what="a label in the large view")
    assert stored_labels(web_store, sid)[ids[2]] == -1.0
    assert "Labeled" in text(d, "item-status")
    keys(d, Keys.ARROW_RIGHT)
    wait(d, lambda d: text(d, "item-id") == ids[3], what="the next item")
    keys(d, Keys.ESCAPE)
    wait(d, lambda d: not shown(d, "item-view"), what="the large view to close")
    # Focus comes back to the item shown once the dialog's close has run (the browser first
    # restores the focus it had before opening, then the page's close handler moves it).
    wait(d, lambda d: d.execute_script("return document.activeElement.dataset.id") == ids[3], what="focus on it")
    assert tile_texts(d, "pred-grid", ".yours")[2] == "you \u22121"
    # Enter opens it in Find (and a double-click anywhere).
    keys(d, "f")
    wait(d, lambda d: len(tiles(d, "find-grid")) == 30, what="the sample")
    focus_tile(d, "find-grid", 0)
    keys(d, Keys.ENTER)
    wait(d, lambda d: shown(d, "item-view") and text(d, "item-id") == tile_ids(d, "find-grid")[0], what="Enter")
    keys(d, "v")
    wait(d, lambda d: not shown(d, "item-view"), what="v closes it")
    no_page_errors(d)


def test_long_ids_are_shown_whole_where_it_matters(live, driver, web_store):
    """Ids of an image folder are paths: a tile shows the file name, the large view all of it."""
    from vectrain.loaders.writer import DatasetWriter

    rng = np.random.default_rng(5)
    ids = [f"train/airplane/img_{i:04d}_from_a_long_folder_name.png" for i in range(12)]
    writer = DatasetWriter(web_store, "paths", 8, "features", total=len(ids), progress=False)
    writer.write(ids=ids, vectors=rng.normal(size=(len(ids), 8)).astype(np.float32), labels=["airplane"] * 12)
    writer.finish()
    d = driver
    open_page(d, f"{live.url}#d=paths&t=find")
    wait(d, lambda d: len(tiles(d, "find-grid")) == 12, what="the sample")
    shown_ids = tile_ids(d, "find-grid")
    names = tile_texts(d, "find-grid", ".id")
    assert names == ["\u2026/" + i.rsplit("/", 1)[1] for i in shown_ids]  # the file name, not the folder
    titles = [t.get_attribute("title") for t in d.find_elements(By.CSS_SELECTOR, "#find-grid .tile .id")]
    assert titles == shown_ids
    focus_tile(d, "find-grid", 0)
    keys(d, "v")
    wait(d, lambda d: text(d, "item-id") == shown_ids[0], what="the large view")
    wait(d, lambda d: shown(d, "item-noimage"), what="no image, said")
    width = d.execute_script(
        "return document.getElementById('item-id').scrollWidth <= document.getElementById('item-id').clientWidth"
    )
    assert width, "the full id is cut"
    keys(d, Keys.ESCAPE)
    no_page_errors(d)
