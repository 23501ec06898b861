"""Jobs and loads through the service, in this process on the real engine: loads by path and by
upload, path containment, the upload limit, one job per dataset, cancellation, and long work
(zero-shot, apply, eval, index builds) as jobs with "wait": false."""

import os
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.fixtures import clustered
from tests.image_folder import write_images
from vectrain.api.app import create_app
from vectrain.core.trust import HEADER
from vectrain.storage.query import Query

SECRET = "the-serving-process-secret"


def write_npz(path, n=300, dim=16, seed=0, prefix="f"):
    vectors, labels = clustered(n, dim, 4, seed=seed)
    np.savez(
        path,
        vectors=vectors,
        ids=np.array([f"{prefix}{i:05d}" for i in range(n)]),
        labels=np.array([f"c{label}" for label in labels]),
        splits=np.array(["train"] * n),
    )
    return vectors


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


@pytest.fixture
def service(settings, store, tmp_path, root):
    settings.load_roots = str(root)
    settings.data_dir = tmp_path / "data"
    settings.job_progress_seconds = 0.2
    app = create_app(settings, store)
    with TestClient(app) as client:
        app.state.local_secret = SECRET
        client.app_state = app.state
        yield client


def wait(client, job_id, timeout=60.0, states=("done", "failed", "cancelled")) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def load(client, name, **form):
    files = form.pop("files", None)
    return client.post(f"/datasets/{name}/load", data=form, files=files, headers=form.pop("headers", None))


def test_load_by_path_then_upload_resumes_and_adds_nothing(service, store, root, settings):
    write_npz(root / "feats.npz")
    r = load(service, "feat", source="features", path="feats.npz")  # relative to the first root
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/jobs/{r.json()['id']}"
    job = wait(service, r.json()["id"])
    assert job["state"] == "done", job
    assert job["result"]["loaded"] == 300 and job["done"] == 300 and job["total"] == 300
    assert "loaded 300" in job["message"] and job["kind"] == "load" and job["dataset"] == "feat"
    assert job["params"]["source"] == "features" and job["finished"] >= job["started"]
    with open(root / "feats.npz", "rb") as f:
        r = load(service, "feat", source="features", files={"file": ("feats.npz", f)})
    job = wait(service, r.json()["id"])
    assert job["state"] == "done" and job["result"]["loaded"] == 0 and job["result"]["skipped"] == 300
    assert job["params"]["file"] == "feats.npz"
    assert not list((settings.data_dir / "uploads").iterdir()), "the upload is removed when its job ends"
    assert store.scalar(Query("SELECT count() = 300 AND uniqExact(id) = 300 FROM items_feat")) == 1
    listed = service.get("/jobs", params={"dataset": "feat"}).json()
    assert [j["result"]["loaded"] for j in listed] == [0, 300], "newest first"
    assert service.get("/jobs/nope").status_code == 404


def test_paths_outside_the_roots_are_refused(service, root, tmp_path, settings):
    outside = tmp_path / "outside"
    outside.mkdir()
    write_npz(outside / "secret.npz")
    (root / "sub").mkdir()
    os.symlink(outside / "secret.npz", root / "link.npz")  # a symlink inside a root escaping it
    os.symlink(outside, root / "sub" / "dir")
    for path in (
        "../outside/secret.npz",
        str(outside / "secret.npz"),
        "link.npz",
        "sub/dir/secret.npz",
        f"{root}/sub/../../outside/secret.npz",
        "/etc/passwd",
        "/",
    ):
        r = load(service, "feat", source="features", path=path)
        assert r.status_code == 403, (path, r.text)
        assert "outside the folders this service loads from" in r.json()["detail"]
    assert load(service, "feat", source="features", path="missing.npz").status_code == 400  # inside: says so
    # the CLI on this machine (it read the serving process's secret) may name any path it can read
    r = load(service, "feat", source="features", path=str(outside / "secret.npz"), headers={HEADER: SECRET})
    assert r.status_code == 202 and wait(service, r.json()["id"])["state"] == "done"
    r = load(service, "feat", source="features", path=str(outside / "secret.npz"), headers={HEADER: "guess"})
    assert r.status_code == 403
    # the network is for the CLI only: no CIFAR download or Unsplash fetch for other clients
    r = load(service, "cif", source="cifar10")
    assert r.status_code == 400 and "downloads only for the CLI" in r.json()["detail"]
    settings.load_roots = ""
    r = load(service, "feat", source="features", path="feats.npz")
    assert r.status_code == 403 and "VECTRAIN_LOAD_ROOTS is not set" in r.json()["detail"]
    for bad in ({"source": "nope", "path": "x"}, {"source": "images"}, {"source": "demo", "path": "x"}):
        assert load(service, "feat", **bad).status_code in (400, 422), bad
    assert load(service, "Bad-Name", source="demo").status_code == 400


def test_uploads_over_the_limit_are_refused_before_they_are_stored(settings, store, tmp_path, root):
    settings.data_dir = tmp_path / "data"
    settings.max_load_bytes = 4096
    with TestClient(create_app(settings, store)) as client:
        write_npz(tmp_path / "big.npz", n=200)
        with open(tmp_path / "big.npz", "rb") as f:
            r = client.post("/datasets/feat/load", data={"source": "features"}, files={"file": ("big.npz", f)})
        assert r.status_code == 413 and "VECTRAIN_MAX_LOAD_BYTES" in r.json()["detail"]
        r = client.post("/datasets/feat/load", data={"source": "features"}, files={"file": ("notes.txt", b"hello")})
        assert r.status_code == 400 and ".npz or .parquet" in r.json()["detail"]
        r = client.post("/datasets/feat/load", data={"source": "images"}, files={"file": ("a.npz", b"x")})
        assert r.status_code == 400
        assert not (settings.data_dir / "uploads").exists() or not list((settings.data_dir / "uploads").iterdir())
        # other routes keep the general body limit
        assert (
            client.post(
                "/sql", content=b"x" * (settings.max_body_bytes + 1), headers={"content-type": "application/json"}
            ).status_code
            == 413
        )


def test_one_job_per_dataset_cancel_and_writes_refused_while_busy(service, store, make_dataset, root):
    make_dataset("toy", n=200, dim=16)
    runner = service.app_state.jobs
    started, seen = threading.Event(), []

    def slow(job_store, progress):  # a job that reports progress until it is cancelled
        for i in range(10_000):
            progress(i, 10_000)
            started.set()
            seen.append(i)
            time.sleep(0.01)
        return {}

    job = runner.submit("load", "toy", {"source": "test"}, slow, hint="Rerun it.")
    assert started.wait(10)
    busy = load(service, "toy", source="demo")
    assert busy.status_code == 409 and busy.json()["code"] == "dataset_busy"
    assert job["id"] in busy.json()["detail"] and "DELETE /jobs/" in busy.json()["detail"]
    s = service.post("/sessions", json={"dataset": "toy", "name": "busy", "positive_ids": ["item-00001"]}).json()
    assert service.post(f"/sessions/{s['id']}/apply").status_code == 409  # a write to the dataset
    assert service.delete("/datasets/toy?force=true").status_code == 409
    r = service.post("/datasets/toy/search", json={"item_id": "item-00001", "k": 5})  # reads go on
    assert r.status_code == 200 and len(r.json()["items"]) == 5
    assert service.post(f"/sessions/{s['id']}/next", json={"k": 5}).status_code == 200
    other = runner.submit("load", "other", {}, slow)  # other datasets are free
    assert service.delete(f"/jobs/{other['id']}").status_code == 200
    running = service.get(f"/jobs/{job['id']}").json()
    assert running["state"] == "running" and running["done"] > 0 and running["total"] == 10_000
    r = service.delete(f"/jobs/{job['id']}")
    assert r.status_code == 200 and r.json()["cancel_requested"]
    ended = wait(service, job["id"])
    assert ended["state"] == "cancelled" and "What was stored stays. Rerun it." in ended["message"]
    assert len(seen) < 10_000
    assert service.delete(f"/jobs/{job['id']}").status_code == 409  # already ended
    assert service.post(f"/sessions/{s['id']}/apply").status_code == 200  # free again


def test_long_work_runs_as_jobs_with_wait_false(service, store, make_dataset):
    vectors, labels, ids = make_dataset("toy", n=400, dim=16, clusters=4)
    centers = [vectors[labels == c].mean(axis=0).tolist() for c in range(4)]
    assert (
        service.post(
            "/labelsets", json={"name": "four", "labels": [f"c{c}" for c in range(4)], "vectors": centers}
        ).status_code
        == 201
    )
    r = service.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "wait": False})
    assert r.status_code == 202, r.text
    job = wait(service, r.json()["id"])
    assert job["state"] == "done" and job["result"]["stored"] == 400 and job["done"] == job["total"] == 400
    r = service.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "split": "test", "wait": False})
    assert wait(service, r.json()["id"])["result"]["stored"] == 80
    bad = service.post(
        "/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "item_ids": ids[:3], "wait": False}
    )
    assert bad.status_code == 400
    r = service.post("/eval/knn", json={"dataset": "toy", "wait": False})
    job = wait(service, r.json()["id"])
    assert job["state"] == "done" and job["result"]["accuracy"] > 0.9 and job["kind"] == "eval"
    s = service.post("/sessions", json={"dataset": "toy", "name": "c0", "positive_ids": ids[:2]}).json()
    r = service.post(f"/sessions/{s['id']}/apply", json={"wait": False})
    job = wait(service, r.json()["id"])
    assert job["state"] == "done" and job["result"]["items"] == 400
    r = service.post("/datasets/toy/index", json={"wait": False})
    assert wait(service, r.json()["id"])["result"]["index"] == "ready"
    assert service.post("/datasets/toy/index").json()["seconds"] == 0.0  # ready: nothing to build
    for audit in ("labels", "duplicates"):  # a job's result is the synchronous answer
        r = service.post(f"/datasets/toy/audit/{audit}", json={"wait": False})
        assert r.status_code == 202, r.text
        job = wait(service, r.json()["id"])
        assert job["state"] == "done" and job["kind"] == "audit", job
        now = service.post(f"/datasets/toy/audit/{audit}", json={}).json()
        key = "items" if audit == "labels" else "groups"
        assert job["result"][key] == now[key] and job["result"]["checked"] == now["checked"]
    kinds = [j["kind"] for j in service.get("/jobs").json()]
    assert kinds == ["audit", "audit", "index", "apply", "eval", "zero-shot", "zero-shot"]


def test_time_budget_points_at_wait_false(settings, store, make_dataset):
    make_dataset("toy", n=300, dim=16)
    settings.batch_time_budget = 0.0
    with TestClient(create_app(settings, store)) as client:
        r = client.post("/eval/knn", json={"dataset": "toy"})
        assert r.status_code == 422 and '"wait": false' in r.json()["detail"]
        r = client.post("/classify/knn", json={"dataset": "toy", "split": "test"})
        assert r.status_code == 422 and '"wait": false' in r.json()["detail"] and "/eval/" in r.json()["detail"]


def test_cli_uploads_to_a_service_elsewhere_follows_the_job_and_deletes(service, store, tmp_path, monkeypatch):
    """With --url the CLI cannot prove it runs on the service's machine: it uploads the features
    file, follows the job, and `jobs` and `datasets delete` go to the service."""
    import httpx
    from click.testing import CliRunner

    from vectrain.cli.main import main

    def request(method, url, timeout=None, **kwargs):
        return service.request(method, url.replace("http://svc", ""), **kwargs)

    monkeypatch.setattr(httpx, "request", request)
    write_npz(tmp_path / "mine.npz", n=120)
    cli = CliRunner()
    r = cli.invoke(main, ["--url", "http://svc", "load", "features", "mine", str(tmp_path / "mine.npz")])
    assert r.exit_code == 0, r.output
    assert "loading as job" in r.output and "mine: loaded 120, skipped 0" in r.output
    job = service.get("/jobs").json()[0]
    assert job["params"]["file"] == "mine.npz" and "path" not in job["params"]
    r = cli.invoke(main, ["--url", "http://svc", "jobs"])
    assert r.exit_code == 0 and job["id"] in r.output and "done" in r.output
    r = cli.invoke(main, ["--url", "http://svc", "--json", "jobs", "show", job["id"]])
    assert r.exit_code == 0 and '"loaded": 120' in r.output
    r = cli.invoke(main, ["--url", "http://svc", "jobs", "cancel", job["id"]])
    assert r.exit_code != 0 and "already ended" in r.output
    r = cli.invoke(main, ["--url", "http://svc", "load", "features", "mine", str(tmp_path / "nope.npz")])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = cli.invoke(main, ["--url", "http://svc", "datasets", "delete", "mine"])
    assert r.exit_code == 0 and "deleted dataset mine (120 rows)" in r.output, r.output


def test_an_images_folder_under_the_roots_and_symlinks_that_leave_them(service, store, root, tmp_path):
    write_images(root / "photos")
    outside = tmp_path / "outside"
    write_images(outside)
    os.symlink(outside / "train" / "cat" / "0.png", root / "photos" / "train" / "cat" / "linked.png")
    r = load(service, "pics", source="images", path="photos", encoder="pixels@size=8")
    job = wait(service, r.json()["id"])
    assert job["state"] == "done", job
    result = job["result"]
    assert result["loaded"] == 6 and result["failed"] == 1, result
    assert any("train/cat/linked.png: a symlink to a file outside the load roots" in f for f in result["failures"])
    rows = store.rows(Query("SELECT id, label, split FROM items_pics ORDER BY id"))
    assert [(r["id"], r["label"], r["split"]) for r in rows][:2] == [
        ("test/dog/0.png", "dog", "test"),
        ("test/dog/1.png", "dog", "test"),
    ]
    # the CLI on this machine may follow it: the rerun adds just that file
    r = load(
        service, "pics", source="images", path=str(root / "photos"), encoder="pixels@size=8", headers={HEADER: SECRET}
    )
    job = wait(service, r.json()["id"])
    assert job["result"]["loaded"] == 1 and job["result"]["skipped"] == 6 and job["result"]["failed"] == 0
    assert store.scalar(Query("SELECT count() FROM thumbnails WHERE dataset = 'pics'")) == 7
    assert service.delete("/datasets/pics").status_code == 200  # its thumbnails go with it
    assert store.scalar(Query("SELECT count() FROM thumbnails WHERE dataset = 'pics'")) == 0


def test_jobs_loads_exports_and_delete_honour_api_keys(settings, store, make_dataset, root, tmp_path):
    make_dataset("toy", n=60, dim=8)
    write_npz(root / "feats.npz", n=20)
    settings.load_roots, settings.data_dir = str(root), tmp_path / "data"
    keyed = settings.model_copy(update={"api_keys": "w" * 32, "read_api_keys": "r" * 32})
    write, read = {"Authorization": "Bearer " + "w" * 32}, {"Authorization": "Bearer " + "r" * 32}
    with TestClient(create_app(keyed, store)) as client:
        for method, path in (
            ("get", "/jobs"),
            ("get", "/loads"),
            ("get", "/datasets/toy/export"),
            ("post", "/datasets/toy/load"),
            ("delete", "/datasets/toy"),
            ("delete", "/jobs/x"),
        ):
            assert client.request(method, path).status_code == 401, path
        load_form = {"source": "features", "path": "feats.npz"}
        assert client.post("/datasets/feat/load", data=load_form, headers=read).status_code == 403
        assert client.post("/datasets/toy/index", json={"wait": False}, headers=read).status_code == 403
        assert client.post("/eval/knn", json={"dataset": "toy", "wait": False}, headers=read).status_code == 403
        assert client.delete("/datasets/toy", headers=read).status_code == 403
        job = client.post("/datasets/feat/load", data=load_form, headers=write).json()
        assert client.get(f"/jobs/{job['id']}", headers=read).status_code == 200
        assert client.delete(f"/jobs/{job['id']}", headers=read).status_code == 403
        assert client.get("/jobs", headers=read).status_code == 200
        r = client.get("/datasets/toy/export", params={"format": "csv"}, headers=read)
        assert r.status_code == 200 and r.text.count("\n") == 61
        assert client.delete("/datasets/toy", headers=write).status_code == 200


def test_a_job_running_when_the_service_stops_is_failed_with_how_to_resume(settings, store):
    from vectrain.jobs.records import read_job

    started = threading.Event()

    def slow(job_store, progress):
        while True:
            progress(1, 10)
            started.set()
            time.sleep(0.01)

    with TestClient(create_app(settings, store)) as client:
        job = client.app.state.jobs.submit("load", "toy", {}, slow, hint="Rerun the same load.")
        assert started.wait(10)
    stopped = read_job(store, job["id"]).as_dict()
    assert stopped["state"] == "failed" and stopped["finished"]
    assert stopped["error"] == "The service stopped while this job was running (1 of 10 done). Rerun the same load."
