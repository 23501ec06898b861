"""The labeling page in a real headless Chromium, against the real service on the digits demo:
the loop as a person runs it, with the keyboard. It checks what the page shows and what the
database stored, and saves screenshots into a folder it prints.
"""

from __future__ import annotations

import json
import re
import uuid

import numpy as np

from tests.web.pages import (
    focused_id,
    keys,
    mark_text,
    no_page_errors,
    skip_without_a_browser,
    stored_labels,
    thumbs_settled,
    tile_ids,
    tile_texts,
    tiles,
    truth,
    wait,
)

skip_without_a_browser()

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

PRED = re.compile(r"^pred (pos|neg) ([+\u2212])(\d+\.\d{3})$")


def margin_of(pred):
    """The margin a tile shows: "pred pos +0.123" -> 0.123 (a true minus sign)."""
    sign, size = PRED.match(pred).group(2, 3)
    return float(size) * (1 if sign == "+" else -1)


def consistent(pred):
    """The decision and the sign of score - threshold agree: pos exactly when it is positive."""
    match = PRED.match(pred)
    return bool(match) and (match.group(1) == "pos") == (match.group(2) == "+")


def test_label_digit_zeros_with_the_keyboard(live, driver, web_store, shots):  # noqa: PLR0915 (one story)
    store = web_store
    labels_of = truth(store)
    d = driver
    d.get("about:blank")
    d.get(live.url)
    wait(d, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true", what="start")

    # ? shows the keys; Esc closes them.
    keys(d, "?")
    help_dialog = d.find_element(By.ID, "help")
    wait(d, lambda d: help_dialog.is_displayed(), what="the help")
    assert "undo" in help_dialog.text and "the large view" in help_dialog.text
    keys(d, Keys.ESCAPE)
    wait(d, lambda d: not help_dialog.is_displayed(), what="the help to close")

    # Choose the dataset; the page shows a fixed sample.
    Select(d.find_element(By.ID, "dataset-select")).select_by_value("digits")
    wait(d, lambda d: len(tiles(d, "find-grid")) == 30, what="the sample")
    assert "1,797 items" in d.find_element(By.ID, "dataset-info").text

    # Find zeros: pick a zero of the sample (click), "more like this" (the m key), pick another.
    sample = tile_ids(d, "find-grid")
    zero = next(i for i in sample if labels_of[i] == "0")
    tiles(d, "find-grid")[sample.index(zero)].click()
    selected = d.find_element(By.ID, "selected-count")
    assert selected.text == "the selected tiles (1)"
    keys(d, "m")
    wait(d, lambda d: d.find_element(By.ID, "find-title").text.startswith(f"More like {zero}"), what="more like this")
    found = tile_ids(d, "find-grid")
    assert found[0] == zero  # an item is its own nearest neighbour
    assert sum(labels_of[i] == "0" for i in found) >= 25, [labels_of[i] for i in found]
    wait(d, lambda d: thumbs_settled(d, "find-grid"), what="the thumbnails")
    d.save_screenshot(str(shots / "find.png"))
    other = next(i for i in found[1:] if labels_of[i] == "0")
    tiles(d, "find-grid")[found.index(other)].click()  # picks add up across searches
    assert selected.text == "the selected tiles (2)"
    keys(d, Keys.SPACE)  # Space toggles the focused tile
    assert selected.text == "the selected tiles (1)"
    keys(d, Keys.SPACE)
    assert selected.text == "the selected tiles (2)"
    zeros = [zero, other]
    name = f"zeros_{uuid.uuid4().hex[:6]}"
    d.find_element(By.ID, "session-name").send_keys(name, Keys.ENTER)
    wait(
        d,
        lambda d: (
            d.find_element(By.ID, "tab-label").get_attribute("aria-selected") == "true"
            and len(tiles(d, "label-grid")) == 10
        ),
        what="the first batch",
    )
    session_id = d.execute_script("return window.vectrain.state.session.id")
    assert stored_labels(store, session_id) == {zeros[0]: 1.0, zeros[1]: 1.0}
    assert "2 (2 positive, 0 negative)" == d.find_element(By.ID, "stat-labels").text

    # Three batches, labeled with the keyboard from the true labels. Every digit has a stored
    # thumbnail: when the service serves item images, every tile shows one (no placeholder).
    import httpx

    serves_images = httpx.get(f"{live.url}datasets/digits/items/{zeros[0]}/image").status_code == 200
    pressed = {zeros[0]: 1.0, zeros[1]: 1.0}
    for batch in range(3):
        wait(d, lambda d: thumbs_settled(d, "label-grid"), what="thumbnails")
        if serves_images:
            assert not d.find_elements(By.CSS_SELECTOR, "#label-grid .placeholder"), "a digit without its image"
        ids = tile_ids(d, "label-grid")
        assert len(ids) == 10 and not set(ids) & set(pressed), "a labeled item came back"
        preds = tile_texts(d, "label-grid", ".pred")
        assert all(map(consistent, preds)), preds
        # The dataset's own label, beside the classifier's decision.
        assert tile_texts(d, "label-grid", ".label") == [labels_of[i] for i in ids]
        if batch == 2:
            # Several at once: click the first non-zero, Ctrl+click the others, one key labels all.
            others = [i for i in ids if labels_of[i] != "0"]
            if others:
                tiles(d, "label-grid")[ids.index(others[0])].click()
                for item_id in others[1:]:
                    ActionChains(d).key_down(Keys.CONTROL).click(tiles(d, "label-grid")[ids.index(item_id)]).key_up(
                        Keys.CONTROL
                    ).perform()
                keys(d, "0")
                for item_id in others:
                    pressed[item_id] = -1.0
                marks = dict(zip(ids, tile_texts(d, "label-grid", ".mark")))
                assert all(marks[i] == "\u22121" for i in others), marks
            tiles(d, "label-grid")[0].click()
            keys(d, Keys.ESCAPE)  # the click selected it; Esc leaves only the focus
        else:
            tiles(d, "label-grid")[0].click()
            keys(d, Keys.ESCAPE)
        for n, item_id in enumerate(ids):
            if item_id in pressed:
                keys(d, Keys.ARROW_RIGHT)
                continue
            assert focused_id(d) == item_id
            key = "1" if labels_of[item_id] == "0" else "0"
            if batch == 1 and n == 0:
                # A wrong label, then undo (z): the mark goes, the focus comes back to the tile.
                keys(d, "0" if key == "1" else "1")
                assert focused_id(d) == ids[1]
                keys(d, "z")
                assert focused_id(d) == item_id
                assert tile_texts(d, "label-grid", ".mark")[0] == ""
            if batch == 0 and n == len(ids) - 1:
                # A graded label: Shift with the digit key gives half a label.
                ActionChains(d).key_down(Keys.SHIFT).send_keys(key).key_up(Keys.SHIFT).perform()
                pressed[item_id] = 0.5 if key == "1" else -0.5
                assert tile_texts(d, "label-grid", ".mark")[n] == ("+0.5" if key == "1" else "\u22120.5")
                continue
            keys(d, key)  # marks the tile and moves to the next one
            pressed[item_id] = 1.0 if key == "1" else -1.0
            mark = tile_texts(d, "label-grid", ".mark")[n]
            assert mark == ("+1" if key == "1" else "\u22121")
        assert d.find_element(By.ID, "stat-pending").text.startswith("10 of 10 marked")
        if batch == 2:
            d.save_screenshot(str(shots / "labeling.png"))  # the README's picture: a marked batch
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

    # The labels are stored, exactly as pressed.
    assert stored_labels(store, session_id) == pressed
    positives = sum(v > 0 for v in pressed.values())
    assert (
        d.find_element(By.ID, "stat-labels").text
        == f"{len(pressed)} ({positives} positive, {len(pressed) - positives} negative)"
    )
    assert d.find_element(By.ID, "stat-round").text == "3"

    # The estimated F1 with its interval and word (or why there is none), the threshold, and the
    # curve (one point per round with an estimate).
    session = json.loads(d.execute_script("return JSON.stringify(window.vectrain.state.session)"))
    q = session["rounds"][-1]["metrics"]["quality"]
    shown = d.find_element(By.ID, "stat-f1").text
    word = d.find_element(By.ID, "stat-f1-word").text
    if q["f1"] is None:
        assert shown == q["message"] and word == ""
    else:
        f1 = q["f1"]
        assert shown == f"{f1:.3f} ({q['f1_low']:.2f}–{q['f1_high']:.2f})"
        assert word == ("great" if f1 >= 0.95 else "good" if f1 >= 0.85 else "ok" if f1 >= 0.7 else "not good")
    assert d.find_element(By.ID, "stat-threshold").text == f"{session['rounds'][-1]['threshold']:.3f}"
    with_f1 = [r for r in session["rounds"] if r["metrics"]["quality"]["f1"] is not None]
    assert len(d.find_elements(By.CSS_SELECTOR, "#curve circle.dot")) == len(with_f1)
    timings = d.execute_script("return window.vectrain.timings")
    print(f"Enter -> next batch on screen (demo, 1,797 rows): {[t['ms'] for t in timings]} ms")
    d.save_screenshot(str(shots / "progress.png"))

    # A reload shows the same state: the same session, round, labels and batch.
    batch = tile_ids(d, "label-grid")
    d.refresh()
    wait(d, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true", what="reload")
    wait(
        d,
        lambda d: d.find_element(By.ID, "stat-round").text == "3" and len(tiles(d, "label-grid")) == 10,
        what="the session after a reload",
    )
    assert d.find_element(By.ID, "stat-labels").text.startswith(f"{len(pressed)} (")
    assert tile_ids(d, "label-grid") == batch
    assert Select(d.find_element(By.ID, "session-select")).first_selected_option.text == name

    # Labels: every label with its mark; relabel one with the keyboard (stored at once), and back.
    keys(d, "b")
    wait(d, lambda d: len(tiles(d, "labels-grid")) == len(pressed), what="the labels")
    shown = dict(zip(tile_ids(d, "labels-grid"), tile_texts(d, "labels-grid", ".mark")))
    assert shown == {i: mark_text(v) for i, v in pressed.items()}
    listed = tile_ids(d, "labels-grid")
    n, first = next((n, i) for n, i in enumerate(listed) if abs(pressed[i]) == 1)
    flipped = "0" if pressed[first] > 0 else "1"
    tiles(d, "labels-grid")[n].click()
    keys(d, Keys.ESCAPE, flipped)
    wait(d, lambda d: tile_texts(d, "labels-grid", ".mark")[n] == mark_text(-pressed[first]), what="the relabel")
    assert stored_labels(store, session_id)[first] == -pressed[first]
    keys(d, "1" if flipped == "0" else "0")
    wait(d, lambda d: tile_texts(d, "labels-grid", ".mark")[n] == mark_text(pressed[first]), what="the label restored")
    assert stored_labels(store, session_id) == pressed
    keys(d, "x")  # remove a label
    wait(d, lambda d: first not in tile_ids(d, "labels-grid"), what="the label removed")
    del pressed[first]
    assert stored_labels(store, session_id) == pressed
    wait(
        d,
        lambda d: d.find_element(By.ID, "stat-labels").get_attribute("textContent").startswith(f"{len(pressed)} ("),
        what="the counts after a removal",
    )

    # Results: apply, the positives by score, nearest the threshold, the negatives.
    keys(d, "r")
    wait(d, lambda d: "Not applied yet" in d.find_element(By.ID, "apply-info").text, what="results")
    d.find_element(By.ID, "apply-button").click()
    wait(d, lambda d: "items positive" in d.find_element(By.ID, "apply-info").text, what="apply")
    predicted = store.client.query(
        "SELECT countIf(positive) FROM predictions FINAL WHERE session_id = {s:String}", parameters={"s": session_id}
    ).result_rows[0][0]
    assert f"{predicted:,} of 1,797 items positive" in d.find_element(By.ID, "apply-info").text
    wait(d, lambda d: len(tiles(d, "pred-grid")) == 40 and thumbs_settled(d, "pred-grid"), what="positives")
    top = tile_ids(d, "pred-grid")
    assert sum(labels_of[i] == "0" for i in top) >= 38, [labels_of[i] for i in top]
    top_margins = [margin_of(x) for x in tile_texts(d, "pred-grid", ".pred")]
    assert top_margins == sorted(top_margins, reverse=True) and top_margins[0] > 0
    d.save_screenshot(str(shots / "results.png"))
    d.find_element(By.CSS_SELECTOR, "[data-browse=threshold]").click()
    wait(d, lambda d: tile_ids(d, "pred-grid") != top and len(tiles(d, "pred-grid")) == 40, what="threshold")
    preds = tile_texts(d, "pred-grid", ".pred")
    assert {p.split()[1] for p in preds} == {"pos", "neg"}  # both sides of the threshold
    # The decision agrees with the score shown: positive exactly when score - threshold > 0.
    assert all(map(consistent, preds)), preds
    d.find_element(By.CSS_SELECTOR, "[data-browse=bottom]").click()
    wait(d, lambda d: "lowest first" in d.find_element(By.ID, "pred-range").text, what="negatives")
    bottom = tile_ids(d, "pred-grid")
    assert not any(labels_of[i] == "0" for i in bottom)

    # The classifier's SQL: the published function, copied to the clipboard.
    function = session["function"]  # as the API names it
    assert d.find_element(By.ID, "sql-function").text == function
    sql_text = d.find_element(By.ID, "sql-statements").text
    assert f"FUNCTION `{function}`" in sql_text
    d.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": live.url.rstrip("/"), "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    d.find_element(By.ID, "copy-sql").click()
    wait(d, lambda d: d.find_element(By.ID, "status").text == "Copied the SQL to the clipboard.", what="copy")
    copied = d.execute_async_script("navigator.clipboard.readText().then(arguments[0], e => arguments[0]('ERR ' + e))")
    assert copied.strip() == sql_text.strip()

    # The weights download as .npy, equal to the latest round's.
    from vectrain.labeling.publish import export_weights

    downloads = shots / "downloads"
    downloads.mkdir(exist_ok=True)
    d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    d.find_element(By.ID, "weights-npy").click()
    wait(d, lambda d: list(downloads.glob(f"{name}_r3.npy")), what="the weights download")
    np.testing.assert_allclose(np.load(downloads / f"{name}_r3.npy"), export_weights(store, session_id)["weights"])

    # The example query runs in the SQL view and counts the same positives.
    d.find_element(By.ID, "run-example").click()
    wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#sql-table tbody td"), what="the example query")
    assert d.find_element(By.CSS_SELECTOR, "#sql-table tbody td").text == str(predicted)

    # Errors are shown as the API's message: a session name that is taken.
    keys(d, Keys.ESCAPE, "f")  # Esc leaves the SQL box, f opens Find
    d.find_element(By.ID, "session-name").clear()
    tiles(d, "find-grid")[0].click()
    d.find_element(By.ID, "session-name").send_keys(name, Keys.ENTER)
    wait(d, lambda d: d.find_element(By.ID, "error").is_displayed(), what="the error")
    assert "already exists" in d.find_element(By.ID, "error-text").text
    no_page_errors(d)
