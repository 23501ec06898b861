"""A real headless Chromium (Debian's chromium + chromium-driver) and a real vectrain service
on a loopback port, for the page's end-to-end tests. Nothing is downloaded at run time: the
driver and the browser are given by path, so Selenium Manager never runs."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM = os.environ.get("VECTRAIN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("VECTRAIN_CHROMEDRIVER", "/usr/bin/chromedriver")
INSTALL_HINT = "apt-get install -y chromium chromium-driver"

# Without the background-networking flags Chromium keeps calling home; the test network is closed.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--no-default-browser-check",
    "--window-size=1360,900",
    "--force-device-scale-factor=1",
]


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "browser tests skipped: selenium is not installed; install it with `pip install -e '.[test]'`"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            return f"browser tests skipped: no {path}; install Chromium with `{INSTALL_HINT}`"
    return None


def _refuse_selenium_manager(*args, **kwargs):
    raise RuntimeError("Selenium Manager must not run: it would download a driver or a browser")


def chrome(user_data_dir: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import selenium_manager

    selenium_manager.SeleniumManager.binary_paths = _refuse_selenium_manager
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(20)
    return driver


def name_labeler(driver, name: str) -> None:
    """Every page this driver opens labels as `name` unless the person gave the page another one
    (the page asks for a name once and keeps it in localStorage; tests of other things skip that)."""
    script = f"try {{ if (!localStorage.getItem('vectrain.labeler')) localStorage.setItem('vectrain.labeler', {name!r}); }} catch {{}}"
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})


def screenshot_dir() -> Path:
    """Where the tests save screenshots: VECTRAIN_SCREENSHOTS, else a fresh temp folder."""
    wanted = os.environ.get("VECTRAIN_SCREENSHOTS")
    path = Path(wanted) if wanted else Path(tempfile.mkdtemp(prefix="vectrain-screens-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def fresh_profile() -> str:
    return tempfile.mkdtemp(prefix="vectrain-chromium-")


def remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
