"""pytest's entry: the shared fixtures live in tests/fixtures.py (tests import helpers from there,
never from this file); this file only makes its fixtures visible and holds the run's hooks."""

from tests.fixtures import (  # noqa: F401  (fixtures pytest finds by name)
    _shared,
    api,
    clip_store,
    engine_path,
    keyed,
    make_dataset,
    settings,
    shared_api,
    shared_store,
    shared_toy,
    store,
    tiny_clip,
)


def pytest_terminal_summary(terminalreporter):
    """When the browser tests were skipped, say so in one line, with how to install Chromium."""
    skipped = terminalreporter.stats.get("skipped", [])
    if any(
        "test_web" in getattr(report, "nodeid", "") or "test_web" in str(getattr(report, "longrepr", ""))
        for report in skipped
    ):
        from tests.browser import missing

        reason = missing()
        if reason:
            terminalreporter.write_line(reason)
