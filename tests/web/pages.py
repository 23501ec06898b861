"""What the page's browser tests share: the service on the digits demo (one per test process),
a headless Chromium, the screenshots folder, and helpers that read what the page shows.

The fixtures are session-scoped: a process loads the demo and starts Chromium once for every
page test it runs (tests/web/conftest.py makes them visible). Each test opens its own address
and session, so they do not depend on each other's order.
"""

from __future__ import annotations

import uuid

import pytest

from bench.server import LiveServer
from tests import browser

REASON = browser.missing()
LABELER = "tester"  # the shared driver's name: labels given through the API here are the same person's
AS_TESTER = {"X-Vectrain-Labeler": LABELER}


def skip_without_a_browser():
    if REASON:
        pytest.skip(REASON, allow_module_level=True)


@pytest.fixture(scope="session")
def web_store(engine_path):
    from vectrain.core.config import Settings
    from vectrain.loaders.demo import load_demo
    from vectrain.storage.store import Store

    settings = Settings(database_url=f"chdb://{engine_path}", database=f"t_web_{uuid.uuid4().hex[:10]}")
    store = Store(settings, owner="pytest web")
    store.migrate()
    load_demo(store, progress=False)
    yield store
    store.command(store.dialect.drop_database(store.database))
    store.close()


@pytest.fixture(scope="session")
def live(web_store):
    from vectrain.api.app import create_app

    with LiveServer(create_app(web_store.settings, web_store)) as server:
        yield server


@pytest.fixture(scope="session")
def driver():
    if REASON:
        pytest.skip(REASON)
    profile = browser.fresh_profile()
    d = browser.chrome(profile)
    browser.name_labeler(d, LABELER)
    yield d
    d.quit()
    browser.remove(profile)


@pytest.fixture(scope="session")
def shots():
    folder = browser.screenshot_dir()
    print(f"\nscreenshots: {folder}")
    return folder


# -- reading the page ------------------------------------------------------------------------------
def wait(driver, condition, timeout=20, what="the page"):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: condition(d))
    except TimeoutException:
        raise AssertionError(
            f"timed out waiting for {what}; page error: {text(driver, 'error-text')!r}; "
            f"status: {text(driver, 'status')!r}"
        ) from None


def text(driver, element_id):
    """An element's text as the page holds it (textContent: also when a dialog covers it)."""
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.textContent : null", element_id
    )


def shown(driver, element_id):
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return !!e && !e.hidden && e.getClientRects().length > 0",
        element_id,
    )


def keys(driver, *sequence):
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*sequence).perform()


def with_key(driver, modifier, *sequence):
    """Keys pressed while a modifier (Keys.SHIFT, Keys.CONTROL) is held, then released."""
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).key_down(modifier).send_keys(*sequence).key_up(modifier).perform()


def tiles(driver, grid_id):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, f"#{grid_id} .tile")


def tile_ids(driver, grid_id):
    return tile_texts(driver, grid_id, None)


def tile_texts(driver, grid_id, selector):
    """One read of the grid (it may be re-rendered between two WebDriver calls): each tile's
    id, or the text of `selector` inside it."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' .tile')].map(t => arguments[1] === null "
        "? t.dataset.id : (t.querySelector(arguments[1]) || {textContent: ''}).textContent)",
        f"#{grid_id}",
        selector,
    )


def thumbs_settled(driver, grid_id):
    """Every tile shows its image, or a placeholder when the item has none."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' .tile .thumb')].every(t => "
        "t.querySelector('.placeholder') || (t.querySelector('img') && t.querySelector('img').complete "
        "&& t.querySelector('img').naturalWidth > 0))",
        f"#{grid_id}",
    )


def focused_id(driver):
    return driver.execute_script("return document.activeElement.dataset.id || null")


def ready(driver):
    return driver.execute_script("return document.body.dataset.ready") == "true"


def open_page(driver, url, what="the page"):
    """Load the page at `url` (a hash names what is open) and wait until it has routed."""
    driver.get("about:blank")  # a new document even when only the hash differs
    driver.get(url)
    wait(driver, ready, what=what)


def no_page_errors(driver):
    """No script errors in the console (404s of items without an image are expected)."""
    bad = [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]
    ]
    assert not bad, bad


# -- the database and the API, beside the page ------------------------------------------------------
def truth(store, dataset="digits"):
    rows = store.client.query(f"SELECT id, label FROM {store.database}.items_{dataset}").result_rows
    return dict(rows)


def stored_labels(store, session_id):
    rows = store.client.query(
        "SELECT item_id, score FROM labels FINAL WHERE session_id = {s:String} AND removed = 0",
        parameters={"s": session_id},
    ).result_rows
    return {i: float(s) for i, s in rows}


def mark_text(score):
    """How the page writes a label: +1, \u22121, +0.5 (a true minus sign)."""
    body = f"{abs(score):g}"
    return ("+" if score > 0 else "\u2212") + body


def new_session(live, positive_ids, dataset="digits", prefix="s"):
    """A session started through the API (the page's own start is tested in test_web_loop)."""
    import httpx

    name = f"{prefix}_{uuid.uuid4().hex[:6]}"
    r = httpx.post(
        f"{live.url}sessions",
        json={"dataset": dataset, "name": name, "positive_ids": positive_ids},
        headers=AS_TESTER,
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return r.json()


def label_and_train(live, session_id, labels, rounds=1):
    """Labels through the API, then a training round (or several)."""
    import httpx

    r = httpx.post(
        f"{live.url}sessions/{session_id}/labels",
        json={"labels": [{"item_id": i, "score": s} for i, s in labels.items()]},
        headers=AS_TESTER,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    for _ in range(rounds):
        assert httpx.post(f"{live.url}sessions/{session_id}/train", json={}, timeout=60).status_code == 200
