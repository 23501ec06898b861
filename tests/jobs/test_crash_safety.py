"""kill -9 at the worst moments, in real processes on their own chDB paths: no acknowledged label
is lost, a killed index build is rebuilt (by the next load and at start-up), and the CLI says
in one line why it cannot open a path."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from bench.server import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]

LOAD = """
import json, sys
sys.path.insert(0, {tests!r})
from tests.fixtures import clustered
from vectrain.loaders.writer import DatasetWriter
from vectrain.core.config import Settings
from vectrain.storage.store import Store
store = Store(Settings(database_url="chdb://{path}"), owner="crash test")
store.migrate()
vectors, labels = clustered({n}, 128, clusters=20)
w = DatasetWriter(store, "big", 128, "features", total={n}, progress=True)
for start in range(0, {n}, 10000):
    w.write(ids=[f"i{{k:06d}}" for k in range(start, min(start + 10000, {n}))], vectors=vectors[start:start + 10000],
            labels=[f"c{{l}}" for l in labels[start:start + 10000]])
s = w.finish()
print(json.dumps(s.as_dict()), flush=True)
"""


def cli(*args, path, **kwargs):
    env = {**os.environ, "VECTRAIN_DATABASE_URL": f"chdb://{path}", "VECTRAIN_SERVICE_URL": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "vectrain.cli.main", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def serve(path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = cli("serve", "--port", str(port), path=path)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(proc, url, 60)
    return proc, url


def load_script(path, n) -> list[str]:
    return [sys.executable, "-c", LOAD.format(tests=str(ROOT / "tests"), path=path, n=n)]


def test_kill_during_the_index_build_then_start_up_rebuilds_it(tmp_path):
    """The load is killed while it builds the index; the service's start-up rebuilds it while
    search answers by scan. (The next load rebuilding it is the same registry.build_index path,
    tested in-process by test_security_api.test_index_state_and_search_plan_tell_the_truth.)"""
    path = tmp_path / "db"
    proc = subprocess.Popen(
        load_script(path, 20_000), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for line in proc.stderr:  # the writer says when the build starts
        if "building the vector index" in line:
            break
    time.sleep(0.5)
    assert proc.poll() is None, "the build ended before the kill: make the dataset larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    server, url = serve(path)
    try:
        assert httpx.get(f"{url}/datasets/big").json()["rows"] == 20_000
        deadline = time.monotonic() + 300
        while (state := httpx.get(f"{url}/datasets/big").json()["index"]) != "ready":
            assert state in ("missing", "building") and time.monotonic() < deadline, state
            # search answers meanwhile, by scan, and says so (unless the build finished in between)
            r = httpx.post(f"{url}/datasets/big/search", json={"item_id": "i000001", "k": 5}, timeout=60)
            assert r.status_code == 200 and len(r.json()["items"]) == 5
            assert r.json()["plan"] == "exact" or httpx.get(f"{url}/datasets/big").json()["index"] == "ready"
            time.sleep(0.5)
        r = httpx.post(f"{url}/datasets/big/search", json={"item_id": "i000001", "k": 5}, timeout=60).json()
        assert r["plan"] == "ann" and len(r["items"]) == 5
    finally:
        server.kill()
        server.wait()


def test_no_acknowledged_label_is_lost_when_the_server_is_killed(tmp_path):
    path = tmp_path / "db"
    assert subprocess.run(load_script(path, 2_000), cwd=ROOT, capture_output=True, timeout=300).returncode == 0
    server, url = serve(path)
    acknowledged: dict[str, float] = {}
    lock = threading.Lock()
    try:
        s = httpx.post(f"{url}/sessions", json={"dataset": "big", "name": "crash", "vector": [1.0] * 128}).json()

        def client(worker: int):
            with httpx.Client(base_url=url, timeout=10) as http:
                for batch in range(1000):
                    labels = [
                        {"item_id": f"i{(worker * 250 + batch * 5 + j) % 2000:06d}", "score": 1.0 if j % 2 else -1.0}
                        for j in range(5)
                    ]
                    try:
                        r = http.post(f"/sessions/{s['id']}/labels", json={"labels": labels})
                    except httpx.HTTPError:
                        return  # the server died: this batch was never acknowledged
                    if r.status_code == 200:
                        with lock:
                            acknowledged.update({x["item_id"]: x["score"] for x in labels})

        threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
        [t.start() for t in threads]
        time.sleep(3)
        server.send_signal(signal.SIGKILL)
        [t.join() for t in threads]
    finally:
        server.kill()
        server.wait()
    assert len(acknowledged) > 20
    server, url = serve(path)  # reopen the same path: every acknowledged label is there, once
    try:
        stored = httpx.get(f"{url}/sessions/{s['id']}/labels").json()["labels"]
        got = {x["item_id"]: x["score"] for x in stored}
        assert len(got) == len(stored)
        missing = [i for i in acknowledged if i not in got]
        assert not missing, f"{len(missing)} acknowledged labels lost"
    finally:
        server.kill()
        server.wait()


def test_cli_says_in_one_line_why_a_path_cannot_be_opened(tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    held = tmp_path / "held"
    server, url = serve(held)
    try:
        cases = [("a file", afile, "is a file, not a directory"), ("held by serve", held, "is in use by process")]
        ro = tmp_path / "ro"
        ro.mkdir()
        mounted = (
            subprocess.run(["mount", "--bind", str(ro), str(ro)], capture_output=True).returncode == 0
            and subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True).returncode == 0
        )
        if mounted:
            cases.append(("read-only", ro, "read-only file system"))
        try:
            for what, path, words in cases:
                proc = cli("serve", "--port", str(free_port()), path=path)
                out, err = proc.communicate(timeout=120)
                assert proc.returncode != 0, what
                assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (what, err)
                assert words in err, (what, err)
        finally:
            if mounted:
                subprocess.run(["umount", str(ro)], capture_output=True)
        if not mounted:
            pytest.skip("cannot make a read-only bind mount here (needs root): the other cases passed")
    finally:
        server.kill()
        server.wait()
