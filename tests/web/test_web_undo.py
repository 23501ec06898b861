"""Undo across the session's history in a real headless Chromium: relabeling many tiles at once
in Labels is one undo step; a batch sent with Enter is one step, still undoable after a reload;
when nothing is left the page says so."""

from __future__ import annotations

from tests.web.pages import (
    keys,
    label_and_train,
    mark_text,
    new_session,
    no_page_errors,
    open_page,
    skip_without_a_browser,
    stored_labels,
    text,
    tile_ids,
    tile_texts,
    tiles,
    truth,
    wait,
    with_key,
)

skip_without_a_browser()

from selenium.webdriver.common.keys import Keys  # noqa: E402


def test_undo_walks_back_through_the_session_history(live, driver, web_store):
    labels_of = truth(web_store)
    zeros = sorted(i for i, c in labels_of.items() if c == "0")[:2]
    sid = new_session(live, zeros, prefix="undo")["id"]
    others = sorted(i for i, c in labels_of.items() if c in ("6", "8"))[:18]
    label_and_train(live, sid, {i: -1.0 for i in others})
    before = stored_labels(web_store, sid)
    assert len(before) == 20

    # Labels: Ctrl+A and one key relabel all 20 in one request; z takes all of it back.
    d = driver
    open_page(d, f"{live.url}#s={sid}&t=labels")
    wait(d, lambda d: len(tiles(d, "labels-grid")) == 20, what="the labels")
    tiles(d, "labels-grid")[0].click()
    with_key(d, Keys.CONTROL, "a")
    keys(d, "1")
    wait(d, lambda d: set(tile_texts(d, "labels-grid", ".mark")) == {"+1"}, what="20 relabeled")
    assert set(stored_labels(web_store, sid).values()) == {1.0}
    keys(d, "z")
    wait(d, lambda d: text(d, "status").startswith("Undone: the labels of 20 items"), what="one undo step")
    assert stored_labels(web_store, sid) == before
    shown = dict(zip(tile_ids(d, "labels-grid"), tile_texts(d, "labels-grid", ".mark")))
    assert shown == {i: mark_text(v) for i, v in before.items()}

    # Label: a batch sent with Enter, then a reload: z still takes the whole batch back.
    keys(d, "l")
    wait(d, lambda d: len(tiles(d, "label-grid")) == 10, what="a batch")
    batch = tile_ids(d, "label-grid")
    tiles(d, "label-grid")[0].click()
    keys(d, Keys.ESCAPE, *["1" if labels_of[i] == "0" else "0" for i in batch], Keys.ENTER)
    wait(d, lambda d: tile_ids(d, "label-grid") != batch and len(tiles(d, "label-grid")) == 10, what="the next batch")
    assert set(batch) <= set(stored_labels(web_store, sid))
    d.refresh()
    wait(d, lambda d: d.execute_script("return document.body.dataset.ready") == "true", what="the reload")
    wait(d, lambda d: len(tiles(d, "label-grid")) == 10, what="the batch after the reload")
    keys(d, "z")
    wait(d, lambda d: text(d, "status").startswith("Undone: the labels of 10 items"), what="the batch undone")
    assert stored_labels(web_store, sid) == before
    wait(d, lambda d: text(d, "stat-labels").startswith("20 ("), what="the counts")
    # Further back: the 18 labels given through the API, the two examples, then nothing.
    keys(d, "z")
    wait(d, lambda d: text(d, "status").startswith("Undone: the labels of 18 items"), what="the API's labels")
    keys(d, "z")
    wait(d, lambda d: "Nothing earlier to undo" in text(d, "status"), what="the examples")
    assert stored_labels(web_store, sid) == {}
    keys(d, "z")
    wait(d, lambda d: text(d, "status").startswith("Nothing to undo in session"), what="nothing left")
    assert not d.find_element("id", "error").is_displayed()  # said, not an error
    no_page_errors(d)
