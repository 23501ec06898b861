"""What the page says, in a real headless Chromium: no stale hint once it is done, no status
line that follows you to another view, SQL errors in place of the previous result, the session
name's rule in words, a word for keys with no meaning, and a help that lists every key."""

from __future__ import annotations

import re
from pathlib import Path

from tests.web.pages import (
    keys,
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

MARK_FIRST = "Mark some tiles first"
KEYS_JS = Path(__file__).resolve().parents[2] / "vectrain" / "web" / "keys.js"


def test_no_stale_or_confusing_text(live, driver, web_store):
    labels_of = truth(web_store)
    zeros = sorted(i for i, c in labels_of.items() if c == "0")[:2]
    sid = new_session(live, zeros, prefix="txt")["id"]
    d = driver
    open_page(d, f"{live.url}#s={sid}&t=label")
    wait(d, lambda d: len(tiles(d, "label-grid")) == 10, what="a batch")

    # The hint to mark tiles goes once tiles are marked.
    tiles(d, "label-grid")[0].click()
    keys(d, Keys.ESCAPE, Keys.ENTER)
    wait(d, lambda d: text(d, "status").startswith(MARK_FIRST), what="the hint")
    keys(d, *"1010101010")
    wait(d, lambda d: text(d, "stat-pending").startswith("10 of 10 marked"), what="all marked")
    assert MARK_FIRST not in text(d, "status")

    # A key with no meaning in a view says so on the status line.
    keys(d, "q")
    assert text(d, "status") == "q: no meaning in Label (? lists the keys)."
    keys(d, "j")
    wait(d, lambda d: shown(d, "view-jobs"), what="Jobs")
    keys(d, "1")
    assert text(d, "status") == "1: nothing to label in Jobs (? lists the keys)."
    keys(d, "z")
    assert text(d, "status") == "z: nothing to undo in Jobs (? lists the keys)."

    # "Copied the SQL" stays in Results: the SQL view does not inherit it.
    d.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": live.url.rstrip("/"), "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    keys(d, "r")
    wait(d, lambda d: text(d, "sql-function") != "–", what="the session's SQL")
    d.find_element(By.ID, "copy-sql").click()
    wait(d, lambda d: text(d, "status") == "Copied the SQL to the clipboard.", what="copied")
    d.find_element(By.ID, "tab-sql").click()
    wait(d, lambda d: shown(d, "view-sql"), what="SQL")
    assert text(d, "status") == ""

    # A failed statement replaces the previous result's table, in place (not in the banner).
    box = d.find_element(By.ID, "sql-query")
    box.clear()
    box.send_keys("SELECT label, count() FROM items_digits GROUP BY label ORDER BY label", Keys.CONTROL, Keys.ENTER)
    wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sql-table tbody tr")) == 10, what="a result")
    box.clear()
    box.send_keys("SELECT no_such_column FROM items_digits", Keys.CONTROL, Keys.ENTER)
    wait(d, lambda d: shown(d, "sql-error"), what="the SQL error")
    assert "no_such_column" in text(d, "sql-error")
    assert not d.find_elements(By.CSS_SELECTOR, "#sql-table tr") and text(d, "sql-info") == ""
    assert not shown(d, "error")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("SELECT 1", Keys.CONTROL, Keys.ENTER)
    wait(d, lambda d: not shown(d, "sql-error") and d.find_elements(By.CSS_SELECTOR, "#sql-table td"), what="ok")

    # The session name's rule in words, not "Please match the requested format".
    keys(d, Keys.ESCAPE, "f")
    name = d.find_element(By.ID, "session-name")
    name.clear()
    name.send_keys("My Session", Keys.ENTER)
    message = d.execute_script("return document.getElementById('session-name').validationMessage")
    assert message.startswith("Name the session with lowercase letters a–z, digits 0–9 and _"), message
    no_page_errors(d)


def test_the_help_lists_every_key(live, driver):
    """Every key keys.js acts on is in the help dialog (and the help says what it does)."""
    source = KEYS_JS.read_text()
    handled = set(re.findall(r'e\.key === "([^"]+)"', source)) | set(
        re.findall(r'\b([a-z]): "(?:find|label|results|labels|sql|jobs)"', source)
    )
    handled |= {"1", "0", "+", "-"}  # grid.js gradeOfKey
    d = driver
    open_page(d, live.url)
    keys(d, "?")
    wait(d, lambda d: shown(d, "help"), what="the help")
    listed = {k.text for k in d.find_elements(By.CSS_SELECTOR, "#help kbd")}
    names = {"Enter": "Enter", "Escape": "Esc", "Delete": "Delete", " ": "Space"}
    missing = sorted(k for k in handled if names.get(k, k) not in listed)
    assert not missing, f"keys the page handles but the help does not list: {missing}"
    keys(d, Keys.ESCAPE)
    wait(d, lambda d: not shown(d, "help"), what="the help to close")
