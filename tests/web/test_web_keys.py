"""API keys in a real headless Chromium: the page asks for a key, sends it (thumbnails too),
knows up front what a read key may do (a visible read-only mode, writes disabled), and forgets it."""

from __future__ import annotations

import uuid

import httpx

from bench.server import LiveServer
from tests.web.pages import keys, no_page_errors, shown, skip_without_a_browser, text, thumbs_settled, tiles, wait

skip_without_a_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from vectrain.api.app import create_app  # noqa: E402


def test_the_page_asks_for_an_api_key_and_sends_it(driver, web_store):
    settings = web_store.settings.model_copy(update={"api_keys": "write-key-1", "read_api_keys": "read-key-1"})
    with LiveServer(create_app(settings, web_store)) as server:
        d = driver
        d.get(server.url)
        dialog = d.find_element(By.ID, "key-dialog")
        wait(d, lambda d: dialog.get_attribute("open") is not None, what="the key dialog")
        assert "needs an API key" in d.find_element(By.ID, "key-reason").text

        d.find_element(By.ID, "key-input").send_keys("not-a-key", Keys.ENTER)
        wait(
            d,
            lambda d: (
                dialog.get_attribute("open") is not None
                and d.find_element(By.ID, "key-reason").text == "Unknown API key."
            ),
            what="the refusal",
        )

        # A read key reads (datasets, the sample with its thumbnails fetched with the key) ...
        d.find_element(By.ID, "key-input").send_keys("read-key-1", Keys.ENTER)
        wait(
            d,
            lambda d: (
                len(tiles(d, "find-grid")) == 30
                and thumbs_settled(d, "find-grid")
                and d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true"
            ),
            what="the sample",
        )
        assert d.execute_script("return localStorage.getItem('vectrain.apiKey')") == "read-key-1"
        # ... and the page says up front that it may only read: a visible mode, writes disabled.
        assert shown(d, "read-only") and "may only read" in text(d, "read-only")
        assert d.execute_script("return document.body.classList.contains('read-only')")
        for control in ("#start-form button[type=submit]", "#submit-button", "#apply-button", "#load-form button"):
            assert not d.find_element(By.CSS_SELECTOR, control).is_enabled(), control
        # A label key says why it cannot store, before any request: in a session started with
        # a write key, opened with the read key.
        started = httpx.post(
            f"{server.url}sessions",
            json={"dataset": "digits", "name": f"ro_{uuid.uuid4().hex[:6]}", "positive_ids": ["digit-0000"]},
            headers={"Authorization": "Bearer write-key-1"},
        )
        sid = started.json()["id"]
        d.get(f"{server.url}#s={sid}&t=find")
        wait(d, lambda d: d.execute_script("return window.vectrain.state.session?.id") == sid, what="the session")
        wait(d, lambda d: len(tiles(d, "find-grid")) == 30, what="the sample")
        tiles(d, "find-grid")[1].click()
        keys(d, Keys.ESCAPE, "1")
        wait(d, lambda d: text(d, "status").startswith("Read-only: this API key may only read"), what="read-only")
        assert not shown(d, "error")
        keys(d, "l")  # the Label view previews a batch; Enter says why it cannot train
        wait(d, lambda d: len(tiles(d, "label-grid")) == 10, what="a batch for a read key")
        assert not d.find_element(By.ID, "submit-button").is_enabled()
        keys(d, "1", Keys.ENTER)
        wait(d, lambda d: text(d, "status").startswith("Read-only"), what="Enter refused")
        assert (
            httpx.get(f"{server.url}sessions/{sid}", headers={"Authorization": "Bearer read-key-1"}).json()["labels"][
                "labeled"
            ]
            == 1
        )
        keys(d, "f")
        d.find_element(By.ID, "session-name").send_keys(f"keyed_{uuid.uuid4().hex[:6]}")
        keys(d, Keys.TAB)  # the name stays typed; the write key below starts the session with it

        # Forget the key; a write key then starts a session.
        d.find_element(By.ID, "forget-key").click()
        wait(d, lambda d: dialog.get_attribute("open") is not None, what="the key dialog again")
        assert d.execute_script("return localStorage.getItem('vectrain.apiKey')") is None
        d.find_element(By.ID, "key-input").send_keys("write-key-1", Keys.ENTER)
        # The page starts again with the key; typing before it has routed races its focus.
        wait(
            d,
            lambda d: (
                dialog.get_attribute("open") is None
                and d.find_element(By.ID, "session-name").is_displayed()
                and d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true"
            ),
            what="the page with the write key",
        )
        assert not shown(d, "read-only")  # a write key writes
        assert d.find_element(By.CSS_SELECTOR, "#start-form button[type=submit]").is_enabled()
        tiles(d, "find-grid")[0].click()
        d.find_element(By.ID, "session-name").send_keys(Keys.ENTER)  # the name typed before is still there
        wait(
            d,
            lambda d: (
                d.find_element(By.ID, "tab-label").get_attribute("aria-selected") == "true"
                and len(tiles(d, "label-grid")) == 10
            ),
            what="a session started with the write key",
        )
        no_page_errors(d)
