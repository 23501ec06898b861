"""POST /sql and `vectrain sql`: what analysts can do, the limits, and that a write changes nothing.
(The attacks are in test_security_sql.py.)"""

import pytest


def test_select_returns_columns_and_rows(api, make_dataset):
    make_dataset(n=40)
    r = api.post("/sql", json={"query": "SELECT label, count() AS n FROM items_toy GROUP BY label ORDER BY label"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["label", "n"]
    assert body["types"] == ["String", "UInt64"]
    assert sum(row[1] for row in body["rows"]) == 40
    assert body["truncated"] is False


@pytest.mark.parametrize(
    "query, check",
    [
        ("SHOW TABLES", lambda b: ["items_toy"] in b["rows"] and ["datasets"] in b["rows"]),
        ("SHOW TABLES LIKE 'items%'", lambda b: b["rows"] == [["items_toy"]]),
        ("SHOW COLUMNS FROM items_toy", lambda b: {r[0] for r in b["rows"]} >= {"id", "vector", "label"}),
        ("SHOW CREATE TABLE items_toy", lambda b: "vector_similarity" in b["rows"][0][0]),
        ("SHOW DATABASES", lambda b: b["columns"] == ["name"]),
        (
            "DESCRIBE items_toy",
            lambda b: (
                ["vector", "Array(Float32)"] == b["rows"][-1][:2]
                or any(r[:2] == ["vector", "Array(Float32)"] for r in b["rows"])
            ),
        ),
        ("DESC TABLE numbers(3)", lambda b: b["rows"][0][:2] == ["number", "UInt64"]),
        ("DESCRIBE (SELECT 1 AS x)", lambda b: b["rows"][0][:2] == ["x", "UInt8"]),
        ("EXPLAIN SELECT count() FROM items_toy", lambda b: b["columns"] == ["explain"]),
        (
            "EXPLAIN indexes = 1 SELECT id FROM items_toy ORDER BY cosineDistance(vector, arrayResize([1.0], 16)) LIMIT 3",
            lambda b: any("Skip" in r[0] or "Indexes" in r[0] for r in b["rows"]),
        ),
        ("EXPLAIN AST SELECT 1", lambda b: b["rows"][0][0].startswith("SelectWithUnionQuery")),
        (
            "WITH per AS (SELECT label, count() AS n FROM items_toy GROUP BY label) SELECT sum(n) FROM per",
            lambda b: b["rows"] == [[500]],
        ),
        ("SELECT count() FROM items_toy AS a JOIN items_toy AS b ON a.id = b.id", lambda b: b["rows"] == [[500]]),
        (
            "SELECT count() FROM items_toy WHERE id IN (SELECT id FROM items_toy WHERE split = 'test')",
            lambda b: b["rows"] == [[100]],
        ),
        ("SELECT (SELECT count() FROM items_toy) AS n", lambda b: b["rows"] == [[500]]),
        ("SELECT sum(number) FROM numbers(10)", lambda b: b["rows"] == [[45]]),
        ("SELECT number FROM system.numbers LIMIT 3", lambda b: b["rows"] == [[0], [1], [2]]),
        ("SELECT dummy FROM system.one", lambda b: b["rows"] == [[0]]),
        ("SELECT * FROM generateSeries(1, 3)", lambda b: b["rows"] == [[1], [2], [3]]),
        (
            "SELECT label, row_number() OVER (PARTITION BY label ORDER BY id) AS r FROM items_toy QUALIFY r = 1",
            lambda b: len(b["rows"]) == len({r[0] for r in b["rows"]}),
        ),
        ("SELECT count() FROM items_toy WHERE cosineDistance(vector, vector) < 1e-6", lambda b: b["rows"] == [[500]]),
    ],
)
def test_analysts_queries_work(shared_api, query, check):  # the shared toy: 500 rows, 100 in test
    r = shared_api.post("/sql", json={"query": query})
    assert r.status_code == 200, r.text
    assert check(r.json()), r.json()


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE items_toy",
        "INSERT INTO items_toy (id, vector) SELECT 'x', arrayResize([1.0], 16)",
        "INSERT INTO items_toy (id) VALUES ('x')",
        "ALTER TABLE items_toy DELETE WHERE 1",
        "TRUNCATE TABLE items_toy",
        "CREATE TABLE evil (x Int32) ENGINE = Memory",
        "OPTIMIZE TABLE items_toy FINAL",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT count() FROM items_toy SETTINGS max_result_rows = 100000000",
    ],
)
def test_writes_and_limit_changes_are_forbidden(shared_api, shared_store, shared_toy, statement):
    r = shared_api.post("/sql", json={"query": statement})
    assert r.status_code == 403, r.text
    assert "read-only" in r.json()["detail"] and "Nothing was run" in r.json()["detail"]
    count = f"SELECT count() FROM {shared_store.database}.items_toy"  # the table itself, not a cached count
    assert shared_store.client.query(count).result_rows[0][0] == len(shared_toy[2])
    assert not shared_store.table_exists("evil")


def test_row_limit_truncates(api):
    r = api.post("/sql", json={"query": "SELECT number FROM system.numbers LIMIT 100000", "max_rows": 25})
    assert r.status_code == 200
    assert len(r.json()["rows"]) == 25 and r.json()["truncated"] is True
    r = api.post("/sql", json={"query": "SELECT number FROM numbers(25)", "max_rows": 25})
    assert len(r.json()["rows"]) == 25 and r.json()["truncated"] is False


def test_server_row_cap(api, store):
    store.settings.sql_max_result_rows = 100
    r = api.post("/sql", json={"query": "SELECT number FROM numbers(100000)", "max_rows": 5000})
    assert r.status_code == 200
    assert len(r.json()["rows"]) == 100 and r.json()["truncated"] is True


def test_time_limit(api, store):
    store.settings.sql_max_execution_time = 0.5
    r = api.post("/sql", json={"query": "SELECT sum(sipHash64(toString(number))) FROM numbers(40000000)"})
    assert r.status_code == 422, r.text
    assert "longer than 0.5 s" in r.json()["detail"] and r.json()["code"] == "time_budget_exceeded"


def test_rows_to_read_limit(api):
    r = api.post("/sql", json={"query": "SELECT count() FROM system.numbers"})
    assert r.status_code == 413, r.text
    assert "would read more than" in r.json()["detail"]


def test_a_full_scan_of_a_large_table_is_within_the_limits(api, store):
    """The default rows-to-read limit leaves room for scans of a 1M-row items table."""
    assert store.settings.sql_max_rows_to_read >= 10 * 1_000_000
    r = api.post("/sql", json={"query": "SELECT count(), max(number) FROM numbers(5000000)"})
    assert r.status_code == 200 and r.json()["rows"] == [[5000000, 4999999]]


def test_syntax_error_is_a_clear_400(api):
    r = api.post("/sql", json={"query": "SELEC 1"})
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert detail.startswith("ClickHouse rejected the query: Syntax error") and "parseQueryToJSON" not in detail
    assert api.post("/sql", json={"query": "  "}).status_code == 400
    r = api.post("/sql", json={"query": "SELECT * FROM no_such_table"})
    assert r.status_code == 400 and "no_such_table" in r.json()["detail"]


def test_long_queries_are_refused_before_parsing(api, store):
    store.settings.sql_max_query_length = 1000
    r = api.post("/sql", json={"query": "SELECT 1" + " " * 2000})
    assert r.status_code == 400 and "limit is 1000" in r.json()["detail"]


def test_published_classifier_function_and_view_work_in_sql(api, store, make_dataset):
    import uuid

    vectors, labels, ids = make_dataset(n=100)
    name = "t_" + uuid.uuid4().hex[:10]  # SQL functions are global to the engine
    s = api.post("/sessions", json={"dataset": "toy", "name": name, "vector": vectors[0].tolist()}).json()
    api.post(
        f"/sessions/{s['id']}/labels",
        json={"labels": [{"item_id": ids[i], "score": 1.0 if labels[i] == labels[0] else -1.0} for i in range(30)]},
    )
    api.post(f"/sessions/{s['id']}/train", json={})
    out = api.post(f"/sessions/{s['id']}/apply").json()
    fn = out["function"]
    try:
        r = api.post("/sql", json={"query": f"SELECT countIf({fn}(vector) > 0) FROM items_toy"})
        assert r.status_code == 200, r.text
        assert r.json()["rows"] == [[out["positives"]]]
        r = api.post("/sql", json={"query": f"SELECT count() FROM {out['view']} WHERE positive"})
        assert r.status_code == 200 and r.json()["rows"] == [[out["positives"]]], r.text
    finally:
        store.client.command(f"DROP FUNCTION IF EXISTS {fn}")
