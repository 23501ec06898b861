"""POST /sql and `vectrain sql`: read-only, limited, and a write changes nothing."""

import pytest


def test_select_returns_columns_and_rows(api, make_dataset):
    make_dataset(n=40)
    r = api.post("/sql", json={"query": "SELECT label, count() AS n FROM items_toy GROUP BY label ORDER BY label"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["label", "n"]
    assert sum(row[1] for row in body["rows"]) == 40
    assert body["truncated"] is False


@pytest.mark.parametrize("statement", [
    "DROP TABLE items_toy",
    "INSERT INTO items_toy (id, vector) SELECT 'x', arrayResize([1.0], 16)",
    "ALTER TABLE items_toy DELETE WHERE 1",
    "TRUNCATE TABLE items_toy",
    "CREATE TABLE evil (x Int32) ENGINE = Memory",
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT count() FROM items_toy SETTINGS max_result_rows = 100000000",
])
def test_writes_and_limit_changes_are_forbidden(api, store, make_dataset, statement):
    make_dataset(n=40)
    r = api.post("/sql", json={"query": statement})
    assert r.status_code == 403, r.text
    assert "read-only" in r.json()["detail"]
    assert store.registry.count_rows("toy") == 40
    assert not store.table_exists("evil")


def test_row_limit_truncates(api):
    r = api.post("/sql", json={"query": "SELECT number FROM system.numbers LIMIT 100000", "max_rows": 25})
    assert r.status_code == 200
    assert len(r.json()["rows"]) == 25 and r.json()["truncated"] is True


def test_time_limit(store):
    from service.api.sql import readonly_query
    from service.errors import TimeBudgetExceeded

    with pytest.raises(TimeBudgetExceeded, match="longer than"):
        readonly_query(store, "SELECT count() FROM numbers(100000000000)", max_seconds=0.5)


def test_syntax_error_is_a_clear_400(api):
    r = api.post("/sql", json={"query": "SELEC 1"})
    assert r.status_code == 400
    assert "ClickHouse rejected the query" in r.json()["detail"]
    assert api.post("/sql", json={"query": "  "}).status_code == 400
