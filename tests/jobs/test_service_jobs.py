"""Loads as jobs in a real `vectrain serve` process (one per module, restarted by the last
test): the CLI hands its load to the service and follows it, a second job on a dataset is 409,
search answers during a load, a cancel keeps what was stored and the rerun resumes, Ctrl+C in
the CLI cancels, uploads over the limit are 413 before they are stored, and kill -9 mid-job:
after a restart the job is failed with how to resume, and the rerun loads one row per item."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from bench.server import free_port, wait_healthy
from tests.fixtures import clustered

ROOT = Path(__file__).resolve().parents[2]
BIG = 12_000  # rows of the slow loads: 480 inserts of 25 rows, a few seconds
ENDED = ("done", "failed", "cancelled")


class Service:
    def __init__(self, tmp: Path):
        self.path, self.root, self.data = tmp / "db", tmp / "root", tmp / "data"
        self.root.mkdir()
        self.env = {
            **os.environ,
            "VECTRAIN_DATABASE_URL": f"chdb://{self.path}",
            "VECTRAIN_SERVICE_URL": "",
            "VECTRAIN_LOAD_ROOTS": str(self.root),
            "VECTRAIN_DATA_DIR": str(self.data),
            "VECTRAIN_INSERT_BATCH_ROWS": "25",
            "VECTRAIN_JOB_PROGRESS_SECONDS": "0.3",
            "VECTRAIN_ANN_INDEX_MAX_DIM": "8",  # no index build at the end of the loads: they end sooner
            "VECTRAIN_MAX_LOAD_BYTES": str(1024 * 1024),
        }
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vectrain.cli.main", "serve", "--port", str(port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = f"http://127.0.0.1:{port}"
        wait_healthy(self.proc, self.url, 90)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def cli(self, *args, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "vectrain.cli.main", *args],
            cwd=kwargs.pop("cwd", ROOT),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    def load(self, dataset: str, **form) -> httpx.Response:
        return httpx.post(f"{self.url}/datasets/{dataset}/load", data=form, timeout=30)

    def job(self, job_id: str) -> dict:
        return httpx.get(f"{self.url}/jobs/{job_id}", timeout=30).json()

    def wait(self, job_id: str, until=lambda job: job["state"] in ENDED, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while not until(job := self.job(job_id)):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        return job

    def count(self, dataset: str) -> list:
        r = httpx.post(
            f"{self.url}/sql", json={"query": f"SELECT count(), uniqExact(id) FROM items_{dataset}"}, timeout=30
        )
        return r.json()["rows"][0]


def write_npz(path: Path, n: int, prefix: str) -> None:
    vectors, labels = clustered(n, 16, 4)
    np.savez(
        path,
        vectors=vectors,
        ids=np.array([f"{prefix}{i:06d}" for i in range(n)]),
        labels=np.array([f"c{label}" for label in labels]),
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("served"))
    write_npz(s.root / "big.npz", BIG, "b")
    s.start()
    yield s
    s.kill()


def running(job: dict) -> bool:
    assert job["state"] not in ENDED, f"the load ended before the test could act on it: {job}"
    return job["state"] == "running" and job["done"] > 0


def test_cli_load_images_is_handed_to_the_service_with_a_progress_bar(service, tmp_path):
    from tests.image_folder import write_images

    write_images(tmp_path / "photos", n_per_class=20)  # outside the load roots: the CLI on this machine may
    cli = service.cli("load", "images", "pics", "photos", "--encoder", "pixels@size=8", cwd=tmp_path)  # relative
    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 0, err
    assert "sending the request there" in err and "loading as job" in err
    assert "load pics" in err and "rows/s" in err  # the job's progress bar
    assert "pics: loaded 40, skipped 0 already stored, failed 0" in out
    jobs = httpx.get(f"{service.url}/jobs", params={"dataset": "pics"}).json()
    assert jobs[0]["state"] == "done" and jobs[0]["params"]["path"] == str(tmp_path / "photos")
    assert jobs[0]["done"] == jobs[0]["total"] == 40
    r = httpx.post(
        f"{service.url}/sql",
        json={"query": "SELECT split, label, count() FROM items_pics GROUP BY split, label ORDER BY split"},
    ).json()
    assert r["rows"] == [["test", "dog", 20], ["train", "cat", 20]]


def test_uploads_over_the_limit_are_refused_before_they_are_stored(service):
    host, port = service.url.removeprefix("http://").split(":")

    def answer(head: bytes, body_chunks) -> str:
        """Send a request on a raw socket until the server answers (or stops reading); its status line."""
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(head)
            try:
                for chunk in body_chunks:
                    s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused before the rest was read
            data = b""
            while b"\r\n\r\n" not in data and (part := s.recv(4096)):
                data += part
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(
                next(
                    (
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    b"0",
                )
            )
            while len(body) < length and (part := s.recv(4096)):
                body += part
        return (head + b"\r\n\r\n" + body).decode(errors="replace")

    start = (
        f"POST /datasets/up/load HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
    ).encode()
    # 100 GB announced, a few bytes sent: refused from the Content-Length
    got = answer(start + f"Content-Length: {100 * 1024**3}\r\n\r\n".encode(), [b"--b\r\n"])
    assert got.startswith("HTTP/1.1 413") and "VECTRAIN_MAX_LOAD_BYTES" in got, got

    def chunked():  # no Content-Length: refused as soon as the stream passes the limit (1 MB here)
        part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.npz"\r\n\r\n' + b"\0" * 65536
        for _ in range(64):
            yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
            part = b"\0" * 65536
        yield b"0\r\n\r\n"

    got = answer(start + b"Transfer-Encoding: chunked\r\n\r\n", chunked())
    assert got.startswith("HTTP/1.1 413") and "VECTRAIN_MAX_LOAD_BYTES" in got, got
    uploads = service.data / "uploads"
    assert not uploads.exists() or not list(uploads.iterdir())


def test_one_job_per_dataset_search_during_the_load_and_cancel_then_resume(service):
    job = service.load("big", source="features", path="big.npz").json()
    service.wait(job["id"], running)
    again = service.load("big", source="features", path="big.npz")
    assert again.status_code == 409 and again.json()["code"] == "dataset_busy" and job["id"] in again.json()["detail"]
    answered = []
    while len(answered) < 5 and service.job(job["id"])["state"] == "running":
        started = time.monotonic()
        r = httpx.post(f"{service.url}/datasets/big/search", json={"item_id": "b000001", "k": 5}, timeout=30)
        assert r.status_code == 200 and len(r.json()["items"]) == 5, r.text
        answered.append(time.monotonic() - started)
    assert len(answered) == 5, "the load ended before five searches"
    assert httpx.delete(f"{service.url}/jobs/{job['id']}").status_code == 200
    ended = service.wait(job["id"])
    assert ended["state"] == "cancelled" and "What was stored stays" in ended["message"], ended
    stored, unique = service.count("big")
    assert 0 < stored < BIG and stored == unique
    rerun = service.wait(service.load("big", source="features", path="big.npz").json()["id"])
    assert rerun["state"] == "done" and rerun["result"]["loaded"] == BIG - stored, rerun
    assert rerun["result"]["skipped"] == stored
    assert service.count("big") == [BIG, BIG]


def test_ctrl_c_in_the_cli_cancels_the_job(service):
    cli = service.cli("load", "features", "big2", str(service.root / "big.npz"))
    deadline = time.monotonic() + 60
    while not (jobs := httpx.get(f"{service.url}/jobs", params={"dataset": "big2"}).json()) or not running(jobs[0]):
        assert time.monotonic() < deadline and cli.poll() is None, cli.stderr.read() if cli.poll() else jobs
        time.sleep(0.1)
    cli.send_signal(signal.SIGINT)  # no terminal: the CLI cancels without asking
    out, err = cli.communicate(timeout=60)
    assert cli.returncode != 0 and "cancelling job" in err and "cancelled" in err, err
    assert service.job(jobs[0]["id"])["state"] == "cancelled"


def test_kill_9_mid_job_then_the_job_is_failed_and_the_rerun_completes(service):
    job = service.load("big3", source="features", path="big.npz").json()
    service.wait(job["id"], running)
    service.kill()
    service.start()
    failed = service.job(job["id"])
    assert failed["state"] == "failed" and failed["finished"], failed
    assert "The service stopped while this job was running" in failed["error"]
    assert "Rerun the same load to add what is missing" in failed["error"]
    stored, unique = service.count("big3")
    assert stored == unique < BIG
    assert f"It stored {stored:,} rows, which stay" in failed["error"], (
        failed
    )  # the rows in the table, not the last progress recorded
    assert failed["stored"] == stored
    rerun = service.wait(service.load("big3", source="features", path="big.npz").json()["id"])
    assert rerun["state"] == "done" and rerun["result"]["loaded"] == BIG - stored, rerun
    assert service.count("big3") == [BIG, BIG]
