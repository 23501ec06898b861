"""What /sql answers: valid JSON whatever the bytes (text, binary said as such, Float32 as sent),
cut at the row and byte limits while it is read."""

import base64
import json


def test_bytes_that_are_not_utf8_come_back_as_binary(api):
    r = api.post("/sql", json={"query": "SELECT '\\xff' AS v, unhex('ff') AS b, 'é' AS t, unhex('c3a9') AS u"})
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [[{"base64": "/w=="}, {"base64": "/w=="}, "é", "é"]]
    assert r.json()["types"] == ["String", "String", "String", "String"]


def test_binary_inside_arrays_maps_and_tuples(api):
    query = (
        "SELECT [unhex('ff'), 'x'] AS a, map(unhex('fe'), 1) AS m, map('k', unhex('fe')) AS n, "
        "tuple(unhex('ff'), 2) AS t, toFixedString(unhex('ff'), 2) AS f, 'a\\\\\\xfeb' AS e"
    )
    r = api.post("/sql", json={"query": query})
    assert r.status_code == 200, r.text
    a, m, n, t, f, e = r.json()["rows"][0]
    assert a == [{"base64": "/w=="}, "x"]
    assert m == [[{"base64": "/g=="}, 1]]  # a map with a binary key: [key, value] pairs
    assert n == {"k": {"base64": "/g=="}}
    assert t == [{"base64": "/w=="}, 2]
    assert base64.b64decode(f["base64"]) == b"\xff\x00"
    assert base64.b64decode(e["base64"]) == b"a\\\xfeb"


def test_a_column_name_that_is_not_utf8_is_a_clear_400(api):
    r = api.post("/sql", json={"query": "SELECT '\\xff'"})
    assert r.status_code == 400 and "AS" in r.json()["detail"], r.text
    assert api.post("/sql", json={"query": "SELECT 1"}).json()["rows"] == [[1]]  # the next statement runs


def test_float32_comes_back_as_it_reads(api):
    r = api.post(
        "/sql",
        json={"query": "SELECT toFloat32(0.6) AS f, [toFloat32(0.1), toFloat32(-2.5)] AS a, 0.6 AS d, nan AS n"},
    )
    assert r.json()["rows"] == [[0.6, [0.1, -2.5], 0.6, None]]


def test_the_result_is_cut_at_its_byte_limit(api, store):
    store.settings.sql_max_result_bytes = 1_000_000
    store.settings.sql_max_memory_usage = 1_000_000_000
    r = api.post("/sql", json={"query": "SELECT repeat('é', 100000) AS x FROM numbers(100)"})  # 20 MB of rows
    assert r.status_code == 200, r.text
    assert len(r.content) <= 1_000_000
    body = r.json()
    assert body["truncated"] is True and 1 <= len(body["rows"]) < 100
    assert body["rows"][0] == ["é" * 100_000]
    r = api.post("/sql", json={"query": "SELECT repeat('é', 1000000) AS x"})  # one value over the limit
    assert r.json() == {"columns": ["x"], "types": ["String"], "rows": [], "truncated": True}
    r = api.post("/sql", json={"query": "SELECT number FROM numbers(10)"})
    assert r.json()["rows"] == [[n] for n in range(10)] and r.json()["truncated"] is False


def test_the_reviews_200_mb_result_is_refused_or_cut(api, store):
    r = api.post("/sql", json={"query": "SELECT repeat('é', 1000000) FROM numbers(100)"})
    if r.status_code == 200:
        assert r.json()["truncated"] is True and len(r.content) <= store.settings.sql_max_result_bytes
    else:
        assert r.status_code == 413 and "VECTRAIN_SQL_MAX_MEMORY_USAGE" in r.json()["detail"]
    assert json.loads(api.post("/sql", json={"query": "SELECT 1"}).content)["rows"] == [[1]]
