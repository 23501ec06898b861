"""A dataset cannot be deleted while an export of it streams: the delete answers 409 and the
export finishes whole; once it ends (or its client leaves), the delete goes through."""

import time

import httpx
import pytest

from bench.server import LiveServer
from vectrain.api.app import create_app
from vectrain.jobs import exports


@pytest.fixture
def served(settings, store, make_dataset, monkeypatch):
    make_dataset("toy", n=3000, dim=16)
    monkeypatch.setattr(exports, "PAGE_ROWS", 100)  # 30 pages: the export is mid-way for a while
    with LiveServer(create_app(settings, store)) as server:
        yield server


def test_a_delete_while_the_export_streams_is_409_and_the_export_finishes(served, caplog):
    with httpx.Client(base_url=served.url, timeout=30) as http:
        with http.stream("GET", "/datasets/toy/export", params={"format": "csv"}) as export:
            assert export.status_code == 200
            chunks = export.iter_bytes()
            body = next(chunks)
            r = http.delete("/datasets/toy")
            assert r.status_code == 409 and r.json()["code"] == "dataset_busy", r.text
            assert "exported" in r.json()["detail"]
            body += b"".join(chunks)
        assert body.count(b"\n") == 3001  # the header and every row: the export ended whole
        r = http.get("/sessions/nope/export")
        assert r.status_code == 404
        assert http.delete("/datasets/toy").status_code == 200  # the export ended: the delete goes through
    assert "unhandled error" not in caplog.text


def test_a_client_that_leaves_mid_export_frees_the_dataset(served):
    with httpx.Client(base_url=served.url, timeout=30) as http:
        with http.stream("GET", "/datasets/toy/export", params={"format": "parquet", "vectors": "true"}) as export:
            next(export.iter_bytes())
        deadline = time.monotonic() + 10
        while (r := http.delete("/datasets/toy")).status_code == 409 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert r.status_code == 200, r.text


def test_an_export_and_a_delete_exclude_each_other(store):
    from vectrain.core.errors import DatasetBusy
    from vectrain.jobs.runner import JobRunner

    runner = JobRunner(store)
    with runner.deleting("toy"):
        with pytest.raises(DatasetBusy, match="being deleted"):
            runner.reading("toy")
        runner.reading("other")()  # other datasets stream meanwhile
    release = runner.reading("toy")
    release2 = runner.reading("toy")
    release()
    release()  # a release runs once
    with pytest.raises(DatasetBusy, match="1 download"):
        with runner.deleting("toy"):
            pass
    release2()
    with runner.deleting("toy"):
        pass
