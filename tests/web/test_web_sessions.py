"""Sessions and exports in a real headless Chromium: rename a session (the name rule in words, a
taken name refused in the dialog), delete one (its name free again), and download a session's
labels and predictions and the dataset from the page."""

from __future__ import annotations

import csv
import uuid

import httpx

from tests.web.pages import (
    new_session,
    no_page_errors,
    open_page,
    shown,
    skip_without_a_browser,
    text,
    tiles,
    truth,
    wait,
)

skip_without_a_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


def session_row(d, sid):
    return d.find_element(By.CSS_SELECTOR, f"#session-list li[data-session='{sid}']")


def listed(d):
    return d.execute_script(
        "return [...document.querySelectorAll('#session-list li[data-session]')].map(li => li.dataset.session)"
    )


def test_rename_and_delete_a_session_from_the_page(live, driver, web_store):
    labels_of = truth(web_store)
    zeros = sorted(i for i, c in labels_of.items() if c == "0")[:2]
    first, second = new_session(live, zeros, prefix="ren"), new_session(live, zeros[:1], prefix="ren")
    assert httpx.post(f"{live.url}sessions/{first['id']}/apply", json={}, timeout=60).status_code == 200
    d = driver
    open_page(d, f"{live.url}#s={first['id']}&t=find")
    wait(d, lambda d: {first["id"], second["id"]} <= set(listed(d)), what="the session list")

    # Rename: the rule in words, a taken name refused inside the dialog, then a new name.
    session_row(d, first["id"]).find_element(By.XPATH, ".//button[text()='Rename']").click()
    wait(d, lambda d: shown(d, "rename-dialog"), what="the rename dialog")
    box = d.find_element(By.ID, "rename-input")
    box.clear()
    box.send_keys("Not a name", Keys.ENTER)
    message = d.execute_script("return document.getElementById('rename-input').validationMessage")
    assert message.startswith("Use lowercase letters a–z, digits 0–9 and _"), message
    box.clear()
    box.send_keys(second["name"], Keys.ENTER)
    wait(d, lambda d: "already exists" in text(d, "rename-error"), what="a taken name refused")
    assert shown(d, "rename-dialog")
    new = f"renamed_{uuid.uuid4().hex[:6]}"
    box.clear()
    box.send_keys(new, Keys.ENTER)
    wait(d, lambda d: not shown(d, "rename-dialog"), what="the rename")
    wait(d, lambda d: session_row(d, first["id"]).find_element(By.TAG_NAME, "button").text == new, what="the list")
    assert d.find_element(By.CSS_SELECTOR, "#session-select option:checked").text == new
    info = httpx.get(f"{live.url}sessions/{first['id']}").json()
    assert info["name"] == new and info["function"].endswith(f"__{new}")
    assert f"is now {new}" in text(d, "status")

    # Delete the open session: gone from the list and the menu, its name free again.
    session_row(d, first["id"]).find_element(By.XPATH, ".//button[text()='Delete']").click()
    wait(d, lambda d: shown(d, "delete-dialog"), what="the delete dialog")
    assert new in text(d, "delete-title") and "cannot be undone" in text(d, "delete-what")
    d.find_element(By.CSS_SELECTOR, "#delete-form button[value=delete]").click()
    wait(d, lambda d: first["id"] not in listed(d), what="the session deleted")
    assert d.execute_script("return window.vectrain.state.session") is None
    options = [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#session-select option")]
    assert first["id"] not in options and second["id"] in options
    assert httpx.get(f"{live.url}sessions/{first['id']}").status_code == 404
    again = httpx.post(f"{live.url}sessions", json={"dataset": "digits", "name": new, "positive_ids": zeros[:1]})
    assert again.status_code == 201, again.text
    assert f"the name {new} is free again" in text(d, "status")
    no_page_errors(d)


def test_export_buttons_download_the_session_and_the_dataset(live, driver, web_store, shots):
    labels_of = truth(web_store)
    zeros = sorted(i for i, c in labels_of.items() if c == "0")[:2]
    s = new_session(live, zeros, prefix="exp")
    assert httpx.post(f"{live.url}sessions/{s['id']}/apply", json={}, timeout=60).status_code == 200
    downloads = shots / f"downloads-{uuid.uuid4().hex[:6]}"
    downloads.mkdir()
    d = driver
    d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    open_page(d, f"{live.url}#s={s['id']}&t=results")
    wait(d, lambda d: len(tiles(d, "pred-grid")) == 40, what="predictions")
    d.find_element(By.ID, "export-csv").click()
    wait(d, lambda d: list(downloads.glob(f"{s['name']}*.csv")), what="the session export")
    path = next(downloads.glob(f"{s['name']}*.csv"))
    wait(d, lambda d: path.stat().st_size > 0 and not list(downloads.glob("*.crdownload")), what="the whole file")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 1797 and set(rows[0]) == {"id", "label", "score", "positive", "round"}
    assert {r["id"]: float(r["label"]) for r in rows if r["label"]} == {z: 1.0 for z in zeros}

    d.find_element(By.ID, "tab-find").click()
    d.find_element(By.ID, "export-dataset-csv").click()
    wait(d, lambda d: list(downloads.glob("digits*.csv")), what="the dataset export")
    path = next(downloads.glob("digits*.csv"))
    wait(d, lambda d: not list(downloads.glob("*.crdownload")), what="the whole file")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 1797 and {r["id"]: r["label"] for r in rows} == labels_of
    no_page_errors(d)
