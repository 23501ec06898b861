"""The page tests' fixtures live in tests/web/pages.py; this file only makes them visible."""

from tests.web.pages import driver, live, shots, web_store  # noqa: F401  (fixtures pytest finds by name)
