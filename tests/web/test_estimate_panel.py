"""The Label view's estimate panel in a real headless Chromium, against the real service on the
digits demo: a session started on the page with an audit share, labeled with the keyboard, shows
its classifier's F1 over the whole dataset with the 95% interval, precision, recall, positives and
the stop rule, as GET /sessions/{id} says them, and follows the background step to the next round."""

from __future__ import annotations

import uuid

import httpx
import pytest

from bench.server import LiveServer
from tests import browser

REASON = browser.missing()
if REASON:
    pytest.skip(REASON, allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from tests.web.pages import LABELER, keys, no_page_errors, thumbs_settled, tile_ids, tiles, truth, wait  # noqa: E402
from vectrain.api.app import create_app  # noqa: E402
from vectrain.core.config import Settings  # noqa: E402
from vectrain.labeling import estimates  # noqa: E402
from vectrain.loaders.demo import load_demo  # noqa: E402
from vectrain.storage.store import Store  # noqa: E402


@pytest.fixture(scope="module")
def demo(engine_path):
    settings = Settings(database_url=f"chdb://{engine_path}", database=f"t_est_{uuid.uuid4().hex[:10]}")
    store = Store(settings, owner="pytest estimate panel")
    store.migrate()
    load_demo(store, progress=False)
    yield store
    estimates.settle(60)
    store.command(store.dialect.drop_database(store.database))
    store.close()


@pytest.fixture(scope="module")
def live(demo):
    with LiveServer(create_app(demo.settings, demo)) as server:
        yield server


@pytest.fixture(scope="module")
def driver():
    profile = browser.fresh_profile()
    d = browser.chrome(profile)
    browser.name_labeler(d, LABELER)  # the page would ask for a name first
    yield d
    d.quit()
    browser.remove(profile)


def label_batch(d, labels_of):
    """Mark every tile of the batch from the true labels with the keyboard, then Enter."""
    wait(d, lambda d: len(tiles(d, "label-grid")) == 10 and thumbs_settled(d, "label-grid"), what="a batch")
    ids = tile_ids(d, "label-grid")
    tiles(d, "label-grid")[0].click()
    keys(d, Keys.ESCAPE)
    for item_id in ids:
        keys(d, "1" if labels_of[item_id] == "0" else "0")
    before = d.find_element(By.ID, "stat-round").text
    keys(d, Keys.ENTER)
    wait(d, lambda d: d.find_element(By.ID, "stat-round").text == str(int(before) + 1), what="the next round")


def panel(d, what):
    return d.find_element(By.ID, f"estimate-{what}").text


def test_the_label_view_shows_the_estimate_its_interval_and_the_stop_rule(live, driver, demo):
    labels_of = truth(demo)
    d = driver
    d.get(live.url)
    wait(d, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true", what="start")
    Select(d.find_element(By.ID, "dataset-select")).select_by_value("digits")
    wait(d, lambda d: len(tiles(d, "find-grid")) == 30, what="the sample")
    sample = tile_ids(d, "find-grid")
    for item_id in [i for i in sample if labels_of[i] == "0"][:2]:
        tiles(d, "find-grid")[sample.index(item_id)].click()
    audit = d.find_element(By.ID, "start-audit")
    audit.clear()
    audit.send_keys("0.3")
    d.find_element(By.ID, "session-name").send_keys(f"zeros_{uuid.uuid4().hex[:6]}", Keys.ENTER)
    wait(d, lambda d: len(tiles(d, "label-grid")) == 10, what="the first batch")
    sid = d.execute_script("return window.vectrain.state.session.id")
    assert "Appears once enough audit labels are in" in panel(d, "note")

    # Four rounds of 10 (3 audit draws each): the estimate appears at 10 audit labels.
    for _ in range(4):
        label_batch(d, labels_of)
    wait(d, lambda d: d.find_element(By.ID, "estimate-panel").get_attribute("data-round") == "4", what="the estimate")
    wait(d, lambda d: d.find_element(By.ID, "estimate-panel").get_attribute("data-estimating") == "false")
    est = httpx.get(f"{live.url}sessions/{sid}").json()["estimate"]
    assert est["round"] == 4 and est["audited"] == 12
    # What the page shows is what the service says: the estimate, its interval, the stop rule.
    assert panel(d, "f1") == f"{est['f1']:.3f} ({est['f1_low']:.3f}–{est['f1_high']:.3f})"
    assert panel(d, "precision") == f"{est['precision']:.3f} ({est['precision_low']:.3f}–{est['precision_high']:.3f})"
    assert panel(d, "recall") == f"{est['recall']:.3f} ({est['recall_low']:.3f}–{est['recall_high']:.3f})"
    assert panel(d, "positives").endswith("of 1,797")
    rule = panel(d, "rule")
    assert rule == est["stop_reason"]
    assert f"F1 is at least {est['f1_at_least']:.3f} with 95% confidence" in rule
    assert (
        f"another 50 labels (about 15 of them audit draws) would narrow its interval by about {est['narrow_by']:.3f}"
        in rule
    )
    assert panel(d, "note").startswith(f"Round 4's classifier, from {est['audited']} audit labels; 95% intervals.")
    d.save_screenshot(str(browser.screenshot_dir() / "estimate.png"))

    # One more round: the panel follows the background step to round 5's estimate.
    label_batch(d, labels_of)
    wait(d, lambda d: d.find_element(By.ID, "estimate-panel").get_attribute("data-round") == "5", what="round 5")
    wait(d, lambda d: d.find_element(By.ID, "estimate-panel").get_attribute("data-estimating") == "false")
    est = httpx.get(f"{live.url}sessions/{sid}").json()["estimate"]
    assert est["round"] == 5 and panel(d, "f1") == f"{est['f1']:.3f} ({est['f1_low']:.3f}–{est['f1_high']:.3f})"
    no_page_errors(d)
