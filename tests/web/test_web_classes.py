"""A session with classes on the labeling page, in a real headless Chromium against the real
service: started from the Find view with three classes, labeled with the keys 1-3 (and `a`, which
accepts the predicted class) through two rounds, relabeled in Labels, applied and browsed by class
in Results. Checks what the page shows and what the database stored."""

from __future__ import annotations

import uuid

import pytest

from bench.server import LiveServer
from tests.web.pages import (
    keys,
    no_page_errors,
    open_page,
    skip_without_a_browser,
    tile_ids,
    tile_texts,
    tiles,
    wait,
)

skip_without_a_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from tests.fixtures import load_toy  # noqa: E402
from vectrain.api.app import create_app  # noqa: E402
from vectrain.core.config import Settings  # noqa: E402
from vectrain.storage.store import Store  # noqa: E402

CLASSES = ["c0", "c1", "c2"]


@pytest.fixture(scope="module")
def class_store(engine_path):
    settings = Settings(database_url=f"chdb://{engine_path}", database=f"t_webc_{uuid.uuid4().hex[:10]}")
    store = Store(settings, owner="pytest web classes")
    store.migrate()
    load_toy(store, name="blobs", n=300, dim=16, clusters=3)
    yield store
    store.command(store.dialect.drop_database(store.database))
    store.close()


@pytest.fixture(scope="module")
def class_live(class_store):
    """A service of its own on three separated clusters (the shared one serves the digits)."""
    with LiveServer(create_app(class_store.settings, class_store)) as server:
        yield server


def stored(store, session_id):
    rows = store.client.query(
        "SELECT item_id, class FROM labels FINAL WHERE session_id = {s:String} AND removed = 0",
        parameters={"s": session_id},
    ).result_rows
    return dict(rows)


def pred_class(text):
    """The class a tile's pred shows ("pred c1 0.93" -> "c1"; "" when it has none)."""
    return text.split(" ")[1] if text.startswith("pred ") else ""


def pred_score(text):
    return float(text.split(" ")[2])


def test_label_three_classes_with_keys_1_to_3_and_apply(class_live, driver, class_store, shots):  # noqa: PLR0915 (one story)
    store, d = class_store, driver
    truth = dict(store.client.query(f"SELECT id, label FROM {store.database}.items_blobs").result_rows)
    open_page(d, class_live.url, what="start")
    Select(d.find_element(By.ID, "dataset-select")).select_by_value("blobs")
    wait(d, lambda d: len(tiles(d, "find-grid")) == 30, what="the sample")

    # Start a session with three classes from the Find view (no label set: the first batch is random).
    name = f"blobs_{uuid.uuid4().hex[:6]}"
    d.find_element(By.ID, "session-name").send_keys(name)
    d.find_element(By.ID, "start-classes").send_keys(", ".join(CLASSES))
    assert d.find_element(By.ID, "start-classes-radio").is_selected()
    d.find_element(By.ID, "start-classes").send_keys(Keys.ENTER)
    wait(
        d,
        lambda d: (
            d.find_element(By.ID, "tab-label").get_attribute("aria-selected") == "true"
            and len(tiles(d, "label-grid")) == 10
        ),
        what="the first batch",
    )
    assert d.find_element(By.TAG_NAME, "body").get_attribute("data-kind") == "multi"
    bar = d.find_element(By.ID, "class-bar").text
    assert all(f"{n + 1} {c}" in bar for n, c in enumerate(CLASSES)), bar
    assert not d.find_element(By.ID, "grade-slider").is_displayed()  # the binary grades are hidden
    session_id = d.execute_script("return window.vectrain.state.session.id")
    strategy = Select(d.find_element(By.ID, "batch-strategy")).first_selected_option.get_attribute("value")
    assert strategy == "balanced"

    pressed: dict[str, str] = {}
    accepted = 0
    for batch in range(2):
        ids = tile_ids(d, "label-grid")
        assert len(ids) == 10 and not set(ids) & set(pressed), "a labeled item came back"
        predicted = [pred_class(x) for x in tile_texts(d, "label-grid", ".pred")]
        if batch == 0:
            assert predicted == [""] * 10  # nothing known yet: no predictions
        else:
            assert all(p in CLASSES for p in predicted), predicted
        tiles(d, "label-grid")[0].click()
        keys(d, Keys.ESCAPE)
        for n, item_id in enumerate(ids):
            want = truth[item_id]
            if batch == 1 and predicted[n] == want:
                keys(d, "a")  # accept the prediction
                accepted += 1
            else:
                keys(d, str(CLASSES.index(want) + 1))
            pressed[item_id] = want
            assert tile_texts(d, "label-grid", ".mark")[n] == want
        assert d.find_element(By.ID, "stat-pending").text.startswith("10 of 10 marked")
        d.save_screenshot(str(shots / f"classes_batch{batch}.png"))
        before = d.find_element(By.ID, "stat-round").text
        keys(d, Keys.ENTER)
        wait(
            d,
            lambda d: (
                d.find_element(By.ID, "stat-round").text == str(int(before) + 1)
                and len(tiles(d, "label-grid")) == 10
                and tile_ids(d, "label-grid") != ids
            ),
            what="the next round",
        )
    assert accepted >= 1, accepted  # three separated clusters: round 1 predicts them (the classes it has seen)
    assert stored(store, session_id) == pressed
    counts = {c: sum(v == c for v in pressed.values()) for c in CLASSES}
    assert d.find_element(By.ID, "stat-labels").text == f"20 ({', '.join(f'{c} {n}' for c, n in counts.items())})"
    accuracy = d.execute_script("return window.vectrain.state.session.rounds.at(-1).metrics.accuracy")
    assert d.find_element(By.ID, "stat-accuracy").text.startswith(f"{accuracy:.3f} (macro F1")
    assert len(d.find_elements(By.CSS_SELECTOR, "#curve circle.dot")) == 2

    # Labels: relabel one with a key (stored at once), then back.
    keys(d, "b")
    wait(d, lambda d: len(tiles(d, "labels-grid")) == 20, what="the labels")
    listed = tile_ids(d, "labels-grid")
    assert dict(zip(listed, tile_texts(d, "labels-grid", ".mark"))) == pressed
    first = listed[0]
    other = CLASSES[(CLASSES.index(pressed[first]) + 1) % 3]
    tiles(d, "labels-grid")[0].click()
    keys(d, Keys.ESCAPE, str(CLASSES.index(other) + 1))
    wait(d, lambda d: tile_texts(d, "labels-grid", ".mark")[0] == other, what="the relabel")
    assert stored(store, session_id)[first] == other
    keys(d, str(CLASSES.index(pressed[first]) + 1))
    wait(d, lambda d: tile_texts(d, "labels-grid", ".mark")[0] == pressed[first], what="the label restored")
    assert stored(store, session_id) == pressed
    # The filter by class shows that class's labels only (its option's text is the class name).
    one = pressed[first]
    Select(d.find_element(By.ID, "labels-filter")).select_by_visible_text(one)
    want = sorted(i for i, c in pressed.items() if c == one)
    wait(d, lambda d: sorted(tile_ids(d, "labels-grid")) == want, what=f"the labels of {one}")
    Select(d.find_element(By.ID, "labels-filter")).select_by_visible_text("all")
    wait(d, lambda d: len(tiles(d, "labels-grid")) == 20, what="every label again")
    d.execute_script("document.activeElement.blur()")  # the keys below are the page's, not the select's

    # Results: apply, every item's class stored; browse one class, most confident first.
    keys(d, "r")
    wait(d, lambda d: "Not applied yet" in d.find_element(By.ID, "apply-info").text, what="results")
    d.find_element(By.ID, "apply-button").click()
    wait(d, lambda d: d.find_element(By.ID, "apply-info").text.startswith("Round "), what="apply")
    rows = store.client.query(
        "SELECT class, count() FROM class_scores WHERE session_id = {s:String} AND round = 2 GROUP BY class",
        parameters={"s": session_id},
    ).result_rows
    applied = dict(rows)
    assert sum(applied.values()) == 300
    info = d.find_element(By.ID, "apply-info").text
    assert all(f"{c} {n}" in info for c, n in applied.items()), info
    right = sum(
        truth[i] == c
        for i, c in store.client.query(
            "SELECT item_id, class FROM class_scores WHERE session_id = {s:String} AND round = 2",
            parameters={"s": session_id},
        ).result_rows
    )
    assert right >= 290, right
    wait(d, lambda d: len(tiles(d, "pred-grid")) == 40, what="the smallest margins")
    assert "smallest margin first" in d.find_element(By.ID, "pred-range").text
    Select(d.find_element(By.ID, "pred-class")).select_by_value("c1")
    wait(d, lambda d: "predicted c1" in d.find_element(By.ID, "pred-range").text, what="class c1")
    preds = tile_texts(d, "pred-grid", ".pred")
    assert {pred_class(x) for x in preds} == {"c1"}
    scores = [pred_score(x) for x in preds]
    assert scores == sorted(scores, reverse=True)
    # A key labels a prediction at once (Results); the tile shows your label.
    first = tile_ids(d, "pred-grid")[0]
    tiles(d, "pred-grid")[0].click()
    keys(d, Keys.ESCAPE, "2")
    wait(d, lambda d: stored(store, session_id).get(first) == "c1", what="the label from Results")
    wait(d, lambda d: tile_texts(d, "pred-grid", ".yours")[0] == "you c1", what="your label on the tile")
    assert "GROUP BY class" in d.find_element(By.ID, "sql-example").text
    d.save_screenshot(str(shots / "classes_results.png"))
    no_page_errors(d)


def test_more_than_nine_classes_have_a_picker(class_live, driver, class_store):
    import httpx

    d, many = driver, [f"k{i}" for i in range(12)]
    r = httpx.post(
        f"{class_live.url}sessions", json={"dataset": "blobs", "name": f"many_{uuid.uuid4().hex[:6]}", "classes": many}
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    open_page(d, f"{class_live.url}#d=blobs&s={sid}&t=label")
    wait(
        d,
        lambda d: (
            d.execute_script("return window.vectrain.state.batchKey") == f"{sid}:0"
            and len(tiles(d, "label-grid")) == 10
            and len(d.find_elements(By.CSS_SELECTOR, "#class-bar button")) == 9
        ),
        what="the batch",
    )
    bar = d.find_element(By.ID, "class-bar")
    assert [b.text for b in bar.find_elements(By.TAG_NAME, "button")] == [f"{n + 1} k{n}" for n in range(9)]
    picker = Select(bar.find_element(By.CSS_SELECTOR, "select.class-picker"))
    assert [o.get_attribute("value") for o in picker.options] == ["", "k9", "k10", "k11"]
    tiles(d, "label-grid")[0].click()
    keys(d, Keys.ESCAPE, "c")  # c: the picker takes the focus
    assert d.switch_to.active_element == bar.find_element(By.CSS_SELECTOR, "select.class-picker")
    picker.select_by_value("k10")
    wait(d, lambda d: tile_texts(d, "label-grid", ".mark")[0] == "k10", what="the picked class")
    keys(d, "9")  # the focus went back to the grid: the next tile gets k8
    wait(d, lambda d: tile_texts(d, "label-grid", ".mark")[1] == "k8", what="the ninth class")
    no_page_errors(d)
