"""The quality a round reports, on the page: 3 positives and 20 negatives used to show "CV F1
1.000 great"; now the progress panel says there are too few positives to judge, and with more of
both it shows the estimated F1 with its 95% interval (and the curve, with the interval's bar)."""

from __future__ import annotations

import httpx

from tests.web.pages import new_session, no_page_errors, skip_without_a_browser, truth, wait

skip_without_a_browser()

from selenium.webdriver.common.by import By  # noqa: E402


def test_progress_shows_the_estimate_with_its_interval_and_the_few_positives_warning(live, driver, web_store):
    labels_of = truth(web_store)
    zeros = [i for i, c in labels_of.items() if c == "0"]
    others = [i for i, c in labels_of.items() if c != "0"]
    sid = new_session(live, zeros[:2], prefix="few")["id"]

    def label_and_train(positive, negative):
        marks = [{"item_id": i, "score": 1.0} for i in positive] + [{"item_id": i, "score": -1.0} for i in negative]
        assert httpx.post(f"{live.url}sessions/{sid}/labels", json={"labels": marks}).status_code == 200
        trained = httpx.post(f"{live.url}sessions/{sid}/train", json={}, timeout=60)
        assert trained.status_code == 200, trained.text
        return trained.json()["metrics"]["quality"]

    q = label_and_train(zeros[2:3], others[:20])  # 3 positives, 20 negatives
    assert q["f1"] is None and q["message"].startswith("too few positives to judge (3 labeled")
    d = driver
    d.get(f"{live.url}#d=digits&s={sid}&t=label")
    f1 = d.find_element(By.ID, "stat-f1")
    wait(d, lambda d: f1.text.startswith("too few positives to judge"), what="the few-positives warning")
    assert "warning" in f1.get_attribute("class").split()
    assert d.find_element(By.ID, "stat-f1-word").text == ""  # no "great"
    assert not d.find_elements(By.CSS_SELECTOR, "#curve circle.dot")

    q = label_and_train(zeros[3:12], others[20:40])  # 12 positives, 40 negatives
    assert q["f1"] is not None and q["f1_low"] <= q["f1"] <= q["f1_high"] and q["message"] is None
    d.refresh()
    want = f"{q['f1']:.3f} ({q['f1_low']:.2f}–{q['f1_high']:.2f})"
    wait(d, lambda d: d.find_element(By.ID, "stat-f1").text == want, what="the estimate and its interval")
    assert "warning" not in d.find_element(By.ID, "stat-f1").get_attribute("class").split()
    assert d.find_element(By.ID, "stat-f1-note").text == (
        f"over the whole dataset; 95% interval {q['f1_low']:.2f} to {q['f1_high']:.2f}"
    )
    assert len(d.find_elements(By.CSS_SELECTOR, "#curve circle.dot")) == 1
    assert len(d.find_elements(By.CSS_SELECTOR, "#curve line.interval")) == 1
    no_page_errors(d)
