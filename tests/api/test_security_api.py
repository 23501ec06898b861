"""The service is safe to expose: API keys, CORS, limits on every input, no 500s, crash-safe
index state. Every reproducer of the security review is here, on the real engine."""

import io
import json
import struct
import threading
import uuid
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.fixtures import READ_KEY, WRITE_KEY
from vectrain.api.app import create_app


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def _name():
    return "s_" + uuid.uuid4().hex[:10]


# -- API keys ----------------------------------------------------------------------------------------
def test_keys_guard_every_route_but_health_and_docs(keyed, make_dataset):
    make_dataset(n=50)
    assert keyed.get("/health").status_code == 200 and keyed.get("/health").json()["auth"] is True
    assert keyed.get("/docs").status_code == 200 and keyed.get("/openapi.json").status_code == 200
    for method, path, body in [
        ("get", "/datasets", None),
        ("post", "/datasets/toy/search", {"item_id": "item-00001"}),
        ("post", "/sql", {"query": "SELECT 1"}),
        ("get", "/sessions", None),
        ("delete", "/labelsets/x", None),
    ]:
        r = keyed.request(method, path, json=body)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["code"] == "unauthorized" and "Bearer" in r.json()["detail"]
        r = keyed.request(method, path, json=body, headers=bearer("nope"))
        assert r.status_code == 401 and r.json()["detail"] == "Unknown API key."
    r = keyed.get("/datasets", headers={"Authorization": f"Basic {WRITE_KEY}"})
    assert r.status_code == 401


def test_a_read_key_reads_and_never_writes(keyed, store, make_dataset):
    vectors, _, ids = make_dataset(n=50)
    assert keyed.get("/datasets/toy", headers=bearer(READ_KEY)).status_code == 200
    r = keyed.post("/datasets/toy/search", json={"item_id": ids[0], "k": 3}, headers=bearer(READ_KEY))
    assert r.status_code == 200, r.text
    assert keyed.post("/sql", json={"query": "SELECT count() FROM items_toy"}, headers=bearer(READ_KEY)).json()[
        "rows"
    ] == [[50]]
    body = {"dataset": "toy", "name": _name(), "vector": vectors[0].tolist()}
    r = keyed.post("/sessions", json=body, headers=bearer(READ_KEY))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    created = keyed.post("/sessions", json=body, headers=bearer(WRITE_KEY))
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert keyed.post(f"/sessions/{sid}/next", json={"k": 3}, headers=bearer(READ_KEY)).status_code == 200
    r = keyed.post(
        f"/sessions/{sid}/labels", json={"labels": [{"item_id": ids[1], "score": 1}]}, headers=bearer(READ_KEY)
    )
    assert r.status_code == 403
    assert keyed.get(f"/sessions/{sid}/labels", headers=bearer(WRITE_KEY)).json()["labels"] == []
    # Label sets: the write key creates one; the read key may classify items with it but not store
    # a whole-dataset run, nor delete it.
    r = keyed.post(
        "/labelsets",
        json={"name": "two", "labels": ["a", "b"], "vectors": vectors[:2].tolist()},
        headers=bearer(WRITE_KEY),
    )
    assert r.status_code == 201, r.text
    r = keyed.post(
        "/classify/zero-shot", json={"dataset": "toy", "labelset": "two", "item_ids": ids[:3]}, headers=bearer(READ_KEY)
    )
    assert r.status_code == 200, r.text
    r = keyed.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "two"}, headers=bearer(READ_KEY))
    assert r.status_code == 403
    assert keyed.delete("/labelsets/two", headers=bearer(READ_KEY)).status_code == 403
    assert keyed.get("/labelsets/two", headers=bearer(READ_KEY)).status_code == 200


def test_cli_sends_the_api_key(keyed, make_dataset, monkeypatch):
    import httpx
    from click.testing import CliRunner

    from vectrain.cli.main import main

    make_dataset(n=20)

    def request(method, url, timeout=None, **kwargs):
        return keyed.request(method, url.replace("http://svc", ""), **kwargs)

    monkeypatch.setattr(httpx, "request", request)
    monkeypatch.delenv("VECTRAIN_API_KEY", raising=False)
    from vectrain.core import config

    config.get_settings.cache_clear()
    r = CliRunner().invoke(main, ["--url", "http://svc", "datasets"])
    assert r.exit_code != 0 and "401" in r.output and "VECTRAIN_API_KEY" in r.output
    monkeypatch.setenv("VECTRAIN_API_KEY", READ_KEY)
    config.get_settings.cache_clear()
    try:
        r = CliRunner().invoke(main, ["--url", "http://svc", "datasets"])
        assert r.exit_code == 0 and "toy" in r.output, r.output
    finally:
        config.get_settings.cache_clear()


def test_cors_only_for_configured_origins(settings, store):
    with TestClient(create_app(settings, store)) as api:  # none by default
        r = api.options("/datasets", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in r.headers
    allowed = settings.model_copy(update={"cors_origins": "https://app.example"})
    with TestClient(create_app(allowed, store)) as api:
        r = api.options(
            "/datasets/toy/search",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
        assert "authorization" in r.headers["access-control-allow-headers"].lower()
        r = api.options("/datasets", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in r.headers


# -- limits --------------------------------------------------------------------------------------------
def test_body_over_the_limit_is_refused_before_it_is_read(settings, store, make_dataset):
    make_dataset(n=20)
    small = settings.model_copy(update={"max_body_bytes": 10_000})
    with TestClient(create_app(small, store)) as api:
        big = json.dumps({"item_id": "item-00001", "exclude_ids": ["x" * 50] * 1000})
        r = api.post("/datasets/toy/search", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["code"] == "too_large"

        def stream():  # no Content-Length: counted as it arrives
            yield b'{"item_id": "item-00001", "exclude_ids": ['
            for _ in range(2000):
                yield b'"xxxxxxxxxxxxxxxxxxxx",'
            yield b'"y"]}'

        r = api.post("/datasets/toy/search", content=stream(), headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text
        assert api.post("/datasets/toy/search", json={"item_id": "item-00001"}).status_code == 200


def test_a_422_does_not_echo_the_input(shared_api):
    api = shared_api
    body = json.dumps({"item_id": "item-00001", "k": "x" * 2_000_000})
    r = api.post("/datasets/toy/search", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    assert len(r.content) < 2_000 and "xxxx" not in r.text


def test_list_lengths_and_numbers_are_bounded(api, store, make_dataset):
    vectors, _, ids = make_dataset(n=50)
    limit = store.settings.max_ids
    r = api.post("/datasets/toy/search", json={"item_id": ids[0], "exclude_ids": [f"i{n}" for n in range(limit + 1)]})
    assert r.status_code == 413 and "exclude_ids" in r.json()["detail"]
    r = api.post("/datasets/toy/search", json={"item_id": ids[0], "k": 10**30})
    assert r.status_code == 400 and "k must be from 1 to" in r.json()["detail"]
    s = api.post("/sessions", json={"dataset": "toy", "name": _name(), "vector": vectors[0].tolist()}).json()
    r = api.post(f"/sessions/{s['id']}/apply", params={"round": 1099511627776})
    assert r.status_code == 400 and "round" in r.json()["detail"]
    assert api.post(f"/sessions/{s['id']}/apply").status_code == 200
    r = api.get(f"/sessions/{s['id']}/predictions", params={"offset": 2**70})
    assert r.status_code == 400 and "offset" in r.json()["detail"]
    r = api.post(f"/sessions/{s['id']}/labels", json={"labels": [{"item_id": ids[1], "score": True}]})
    assert r.status_code == 422
    assert api.get(f"/sessions/{s['id']}/labels").json()["labels"] == []


def _png_claiming(width: int, height: int) -> bytes:
    """A small valid PNG whose header claims width x height pixels (a decompression bomb's header)."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.parametrize("side", [12_000, 20_000])
def test_giant_image_headers_are_refused_before_decoding(api, store, side):
    from vectrain.loaders.writer import DatasetWriter

    writer = DatasetWriter(store, "px", 192, "pixels@size=8", progress=False)
    writer.write(ids=["a", "b"], vectors=np.eye(2, 192, dtype=np.float32))
    writer.finish()
    r = api.post("/datasets/px/search/image", files={"file": ("bomb.png", _png_claiming(side, side), "image/png")})
    assert r.status_code == 413 and r.json()["code"] == "image_too_large", r.text
    assert f"{side} x {side}" in r.json()["detail"] or "too many pixels" in r.json()["detail"]


# -- no 500s -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("post", "/datasets/nope/search", {"item_id": "x"}, 404),
        ("post", "/sessions/nope/apply?round=-1", None, 422),
        ("get", "/sessions/nope/weights?round=-1", None, 422),
        ("post", "/datasets/toy/search", '{"item_id": "item-00005", "k": NaN}', 422),
        ("post", "/datasets/toy/search", '{"vector": [Infinity, 1], "k": 3}', 422),
        ("post", "/classify/tourney", '{"dataset": "toy", "labelset": "x", "min_margin_quantile": NaN}', 422),
        ("post", "/sessions", {"dataset": "toy", "name": "abc\n", "vector": [1.0] * 16}, 400),
        ("post", "/labelsets", {"name": "ab\n", "labels": ["a"], "vectors": [[1.0] * 16]}, 400),
        ("get", "/datasets/toy%0A", None, 400),
        ("post", "/datasets/toy/search", {"item_id": "item-00001", "exclude_ids": [None]}, 422),
        ("post", "/sessions", {"dataset": "toy", "name": "x" * 10_000, "vector": [1.0] * 16}, 400),
        ("post", "/eval/knn", {"dataset": "toy", "k": 2**64}, 400),
    ],
)
def test_review_reproducers_answer_4xx(shared_api, method, path, body, status):
    api = shared_api  # the shared toy (16-d); a new session's name is unique
    kwargs = (
        {"content": body, "headers": {"content-type": "application/json"}}
        if isinstance(body, str)
        else {"json": body}
        if body is not None
        else {}
    )
    r = api.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["detail"] and r.json()["code"]
    # the service still writes afterwards
    assert api.post("/sessions", json={"dataset": "toy", "name": _name(), "vector": [1.0] * 16}).status_code == 201


def test_huge_vectors_normalize_in_float64(api, make_dataset):
    make_dataset(n=40)
    r = api.post("/sessions", json={"dataset": "toy", "name": _name(), "vector": [3e38] * 16})
    assert r.status_code == 201, r.text
    w = np.asarray(api.get(f"/sessions/{r.json()['id']}/weights").json()["weights"])
    np.testing.assert_allclose(w, np.full(16, 0.25), rtol=1e-6)
    r = api.post("/labelsets", json={"name": "big", "labels": ["a"], "vectors": [[-3e38] + [0.0] * 15]})
    assert r.status_code == 201
    r = api.post("/datasets/toy/search", json={"vector": [1e-300] + [0.0] * 15, "k": 2})
    assert r.status_code == 200 and len(r.json()["items"]) == 2


def test_a_bad_dataset_name_in_a_load_changes_nothing(store, tmp_path):
    from vectrain.core.errors import BadInput
    from vectrain.loaders.features import load_features

    path = tmp_path / "f.npz"
    np.savez(path, vectors=np.eye(3, 4, dtype=np.float32), ids=np.array(["a", "b", "c"]))
    with pytest.raises(BadInput, match="Invalid dataset name"):
        load_features(store, "x\n", path, progress=False)
    assert store.registry.list() == []


# -- concurrency ---------------------------------------------------------------------------------------
def test_concurrent_creation_gives_one_winner(api, make_dataset):
    make_dataset(n=40)
    for kind, path, make_body in [
        ("session", "/sessions", lambda n: {"dataset": "toy", "name": n, "vector": [1.0] * 16}),
        ("labelset", "/labelsets", lambda n: {"name": n, "labels": ["a"], "vectors": [[1.0] * 16]}),
    ]:
        for _ in range(3):
            name, statuses = _name(), []
            barrier = threading.Barrier(8)

            def create():
                barrier.wait()
                statuses.append(api.post(path, json=make_body(name)).status_code)

            threads = [threading.Thread(target=create) for _ in range(8)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            assert sorted(statuses) == [201] + [409] * 7, (kind, statuses)


def test_concurrent_training_never_reuses_a_round(api, make_dataset):
    vectors, labels, ids = make_dataset(n=200)
    s = api.post("/sessions", json={"dataset": "toy", "name": _name(), "vector": vectors[0].tolist()}).json()
    pairs = [{"item_id": i, "score": 1.0 if labels[n] == labels[0] else -1.0} for n, i in enumerate(ids[:40])]
    assert api.post(f"/sessions/{s['id']}/labels", json={"labels": pairs}).status_code == 200
    rounds = []
    barrier = threading.Barrier(6)

    def train():
        barrier.wait()
        r = api.post(f"/sessions/{s['id']}/train", json={})
        assert r.status_code == 200, r.text
        rounds.append(r.json()["round"])

    threads = [threading.Thread(target=train) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(rounds) == [1, 2, 3, 4, 5, 6]
    assert [r["round"] for r in api.get(f"/sessions/{s['id']}").json()["rounds"]] == [0, 1, 2, 3, 4, 5, 6]


def test_published_functions_do_not_collide_across_databases(engine_path, make_dataset, api):
    """Two databases on one engine, sessions with the same name: each its own function."""
    from vectrain.core.config import Settings
    from vectrain.storage.store import Store

    vectors, _, _ = make_dataset(n=40)
    name = _name()
    a = api.post("/sessions", json={"dataset": "toy", "name": name, "vector": vectors[0].tolist()}).json()
    other = Store(
        Settings(
            database_url=f"chdb://{engine_path}", database=f"t_{uuid.uuid4().hex[:12]}", allowed_hosts="testserver"
        )
    )
    try:
        other.migrate()
        with TestClient(create_app(other.settings, other)) as api2:
            from vectrain.loaders.writer import DatasetWriter

            w = DatasetWriter(other, "toy", 16, "features", progress=False)
            w.write(ids=[f"o{i}" for i in range(40)], vectors=-vectors)
            w.finish()
            b = api2.post("/sessions", json={"dataset": "toy", "name": name, "vector": vectors[0].tolist()}).json()
            fa = api.post(f"/sessions/{a['id']}/apply").json()["function"]
            fb = api2.post(f"/sessions/{b['id']}/apply").json()["function"]
            assert fa != fb
            assert (
                other.client.query(f"SELECT countIf({fb}(vector) > 0) FROM items_toy").result_rows[0][0]
                == api2.post(f"/sessions/{b['id']}/apply").json()["positives"]
            )
    finally:
        other.command(other.dialect.drop_database(other.database))


# -- the vector index's state tells the truth ----------------------------------------------------------
def test_index_state_and_search_plan_tell_the_truth(api, store):
    from tests.fixtures import clustered
    from vectrain.loaders.writer import DatasetWriter

    vectors, _ = clustered(2000, 16)
    writer = DatasetWriter(store, "half", 16, "features", progress=False)
    writer.write(ids=[f"i{n:05d}" for n in range(2000)], vectors=vectors)
    writer.finish(build_index=False)  # as if the process died before the build
    assert api.get("/datasets/half").json()["index"] == "missing"
    r = api.post("/datasets/half/search", json={"vector": vectors[0].tolist(), "k": 5})
    assert r.json()["plan"] == "exact"
    rerun = DatasetWriter(store, "half", 16, "features", progress=False)
    rerun.write(ids=[f"i{n:05d}" for n in range(2000)], vectors=vectors)  # nothing new
    summary = rerun.finish()
    assert summary.loaded == 0 and summary.index_seconds > 0
    assert api.get("/datasets/half").json()["index"] == "ready"
    r = api.post("/datasets/half/search", json={"vector": vectors[0].tolist(), "k": 5})
    assert r.json()["plan"] == "ann"
