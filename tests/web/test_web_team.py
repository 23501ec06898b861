"""Two labelers on one session in two real headless Chromiums at once: each page asks its person's
name once and keeps it, each labels five rounds with the keyboard while the other does, their
batches never share an item, every label records who gave it, the progress panel counts labels
per labeler, and the Labels view's review list shows the items they answered differently with
their agreement."""

from __future__ import annotations

import threading
import time

import httpx

from tests import browser
from tests.web.pages import (
    keys,
    no_page_errors,
    open_page,
    ready,
    shown,
    skip_without_a_browser,
    text,
    tile_ids,
    tile_texts,
    tiles,
    truth,
    wait,
)

skip_without_a_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

ROUNDS = 5


def give_name(d, url, name):
    """A fresh browser: the page asks for a name before anything else, and keeps it."""
    d.get("about:blank")
    d.get(url)
    wait(d, lambda d: shown(d, "name-input"), what="the name dialog")
    assert "leased to you" in text(d, "name-reason")
    d.find_element(By.ID, "name-input").send_keys(name, Keys.ENTER)
    wait(d, ready, what="the page after the name")
    assert text(d, "labeler-name") == name and shown(d, "labeler-change")


def busy(d):
    """Enter is ignored while the round before is still finishing (the page says busy)."""
    return d.execute_script("return document.body.classList.contains('busy')")


def label_rounds(d, labels_of, handed, errors):
    """Five rounds: mark each tile of the batch by the truth (digit 0 positive), Enter."""
    try:
        for _ in range(ROUNDS):
            wait(d, lambda d: len(tiles(d, "label-grid")) == 10 and not busy(d), what="a batch")
            batch = tile_ids(d, "label-grid")
            handed.append((time.monotonic(), batch))
            tiles(d, "label-grid")[0].click()
            keys(d, Keys.ESCAPE, *["1" if labels_of[i] == "0" else "0" for i in batch], Keys.ENTER)
            wait(d, lambda d: tile_ids(d, "label-grid") != batch and len(tiles(d, "label-grid")) == 10, timeout=60)
        handed.append((time.monotonic(), tile_ids(d, "label-grid")))
    except Exception as exc:  # noqa: BLE001 (reported by the main thread)
        errors.append(exc)


def test_two_labelers_share_a_session(live, web_store, shots):
    labels_of = truth(web_store)
    zeros = sorted(i for i, c in labels_of.items() if c == "0")[:2]
    r = httpx.post(
        f"{live.url}sessions",
        json={"dataset": "digits", "name": f"team_{int(time.time())}", "positive_ids": zeros},
        headers={"X-Vectrain-Labeler": "ann"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    url = f"{live.url}#s={sid}&t=label"
    profiles = [browser.fresh_profile(), browser.fresh_profile()]
    drivers = [browser.chrome(p) for p in profiles]
    try:
        ann, ben = drivers
        give_name(ann, url, "ann")
        give_name(ben, url, "ben")
        open_page(ann, url)  # a reload: the name is kept, no dialog
        assert not shown(ann, "name-input") and text(ann, "labeler-name") == "ann"

        handed = {"ann": [], "ben": []}
        errors: list[Exception] = []
        threads = [
            threading.Thread(target=label_rounds, args=(d, labels_of, handed[name], errors))
            for d, name in ((ann, "ann"), (ben, "ben"))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not errors, errors

        # No item was handed to both (every lease ended only when its item was labeled).
        ann_items = {i for _, b in handed["ann"] for i in b}
        ben_items = {i for _, b in handed["ben"] for i in b}
        assert len(ann_items) == 10 * (ROUNDS + 1) and len(ben_items) == 10 * (ROUNDS + 1)
        assert not ann_items & ben_items
        # Every label records who gave it, as each page sent it.
        rows = web_store.client.query(
            "SELECT item_id, labeler, score FROM labels FINAL WHERE session_id = {s:String} AND removed = 0",
            parameters={"s": sid},
        ).result_rows
        by = {i: who for i, who, _ in rows}
        assert len(rows) == 2 + 2 * 10 * ROUNDS
        assert {by[i] for i in ann_items if i in by} == {"ann"} and {by[i] for i in ben_items if i in by} == {"ben"}
        assert {by[z] for z in zeros} == {"ann"}

        # The progress panel counts each labeler's labels (after a reload it reads the session).
        open_page(ben, url)
        wait(ben, lambda d: text(d, "stat-labelers") == f"ann {2 + 10 * ROUNDS} · ben {10 * ROUNDS}", what="counts")
        ben.save_screenshot(str(shots / "team-label-ben.png"))

        # Ben reviews 12 of ann's labels through the API, disagreeing on 3: the page's review list
        # shows those 3 with both answers, and the pair's agreement.
        ann_labeled = sorted(i for i in ann_items if by.get(i) == "ann")[:12]
        review = [
            {"item_id": i, "score": (-1.0 if n < 3 else 1.0) * (1.0 if labels_of[i] == "0" else -1.0)}
            for n, i in enumerate(ann_labeled)
        ]
        r = httpx.post(
            f"{live.url}sessions/{sid}/labels", json={"labels": review}, headers={"X-Vectrain-Labeler": "ben"}
        )
        assert r.status_code == 200, r.text
        open_page(ben, f"{live.url}#s={sid}&t=labels")
        from selenium.webdriver.support.ui import Select

        Select(ben.find_element(By.ID, "labels-filter")).select_by_visible_text("labeled differently (review)")
        wait(ben, lambda d: len(tiles(d, "labels-grid")) == 3, what="the review list")
        assert sorted(tile_ids(ben, "labels-grid")) == sorted(ann_labeled[:3])
        notes = tile_texts(ben, "labels-grid", ".answers")
        assert all(n.startswith("ann ") and " · ben " in n for n in notes)
        agreement = text(ben, "labels-agreement")
        api = httpx.get(f"{live.url}sessions/{sid}/disagreements").json()
        (pair,) = api["agreement"]
        assert pair["items"] == 12 and pair["agreed"] == 9
        assert f"ann & ben: κ {pair['kappa']:.2f}" in agreement and "9 of 12 agree" in agreement
        ben.save_screenshot(str(shots / "team-review.png"))

        # Settling one: ben takes ann's answer on the first tile (its key), and it leaves the list.
        first = tile_ids(ben, "labels-grid")[0]
        tiles(ben, "labels-grid")[0].click()
        keys(ben, "1" if labels_of[first] == "0" else "0")
        wait(
            ben,
            lambda d: len(tiles(d, "labels-grid")) == 2 and first not in tile_ids(d, "labels-grid"),
            what="one settled",
        )
        for d in drivers:
            no_page_errors(d)
    finally:
        for d in drivers:
            d.quit()
        for p in profiles:
            browser.remove(p)
