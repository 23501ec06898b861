"""`vectrain load images` handed to a running `vectrain serve`: search while it loads, kill -9
mid-job, restart, rerun.

    .venv/bin/python -m bench.service_load --images 5000 --kill-at 0.6

Writes --images photo-like images (tests/image_folder.py: JPEG, PNG and WebP in train/ and test/
class folders) into bench/out/service-load-images (kept), starts `vectrain serve` on a fresh chDB
path, and runs `vectrain load images photos DIR --encoder pixels` in a terminal-less CLI process,
which hands the load to the service as a job. While the job runs, it searches the dataset every
0.2 s (latency per answer); when --kill-at of the images are stored it kills the server with SIGKILL, restarts
it, reads the job (failed, with how to resume), reruns the same CLI command, and checks one row
per image. Writes the "service_load" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bench.report import machine, write_section  # noqa: E402
from tests.image_folder import write_folder  # noqa: E402

OUT = ROOT / "bench" / "out"


class Server:
    def __init__(self, path: Path):
        self.env = {
            **os.environ,
            "VECTRAIN_DATABASE_URL": f"chdb://{path}",
            "VECTRAIN_SERVICE_URL": "",
            "VECTRAIN_DATA_DIR": str(path.parent / "data"),
        }
        self.proc, self.url = None, ""

    def start(self) -> float:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vectrain.cli.main", "serve", "--port", str(port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                time.sleep(0.1)

    def cli(self, *args) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "vectrain.cli.main", *args],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def rows(self) -> tuple[int, int]:
        r = httpx.post(f"{self.url}/sql", json={"query": "SELECT count(), uniqExact(id) FROM items_photos"}, timeout=60)
        return tuple(r.json()["rows"][0]) if r.status_code == 200 else (0, 0)

    def job(self) -> dict | None:
        jobs = httpx.get(f"{self.url}/jobs", params={"dataset": "photos"}, timeout=60).json()
        return jobs[0] if jobs else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument(
        "--kill-at", type=float, default=0.6, help="share of the images stored when the server is killed"
    )
    args = parser.parse_args()
    folder = OUT / "service-load-images"
    if not folder.is_dir() or sum(1 for _ in folder.rglob("*.*")) != args.images:
        shutil.rmtree(folder, ignore_errors=True)
        write_folder(folder, args.images, sizes=(160, 320))
    work = OUT / "service-load"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server = Server(work / "db")
    start_seconds = server.start()
    command = ["load", "images", "photos", str(folder), "--encoder", "pixels"]
    cli = server.cli(*command)
    latencies, answered_while_running = [], 0
    while True:  # search while the job runs, until the kill point
        job = server.job()
        if job and job["state"] == "running" and job["done"] >= args.kill_at * args.images:
            break
        if job and job["state"] in ("done", "failed", "cancelled"):
            raise SystemExit(f"the job ended before the kill point: {job}")
        if job and job["state"] == "running" and job["done"] > 0:
            started = time.perf_counter()
            r = httpx.post(
                f"{server.url}/datasets/photos/search", json={"item_id": next_id(server), "k": 10}, timeout=60
            )
            if r.status_code == 200:
                latencies.append(time.perf_counter() - started)
                answered_while_running += 1
        time.sleep(0.2)
    killed_job = job
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    cli.communicate(timeout=60)
    restart_seconds = server.start()
    after = httpx.get(f"{server.url}/jobs/{killed_job['id']}", timeout=60).json()
    stored_at_kill = server.rows()
    started = time.perf_counter()
    rerun = server.cli(*command)
    out, err = rerun.communicate(timeout=3600)
    rerun_seconds = time.perf_counter() - started
    summary = out.strip().splitlines()[-1] if out.strip() else err[-300:]
    final = server.rows()
    last = server.job()
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=60)
    ms = np.asarray(latencies) * 1000
    lines = [
        "## Loads through the running service (`bench/service_load.py`)",
        "",
        f"`.venv/bin/python -m bench.service_load --images {args.images} --kill-at {args.kill_at:g}` on {machine()}; "
        f"load average {os.getloadavg()[0]:.1f} at the end. A folder of {args.images:,} photo-like images "
        "(160-320 px, JPEG/PNG/WebP, train/ and test/ class folders); `vectrain load images photos DIR --encoder "
        "pixels` with `vectrain serve` running, so the CLI hands the load to the service as a job and follows it.",
        "",
        f"- `vectrain serve` up in {start_seconds:.1f} s; search answered {answered_while_running} times while the job "
        f"ran: p50 {np.percentile(ms, 50):.0f} ms, max {ms.max():.0f} ms (k=10, every answer 200).",
        f"- Killed with SIGKILL at {killed_job['done']:,} of {killed_job['total']:,} images done; restarted in "
        f'{restart_seconds:.1f} s. The job then read `{after["state"]}`: "{after["error"]}"',
        f"- Stored at the kill: {stored_at_kill[0]:,} rows ({stored_at_kill[1]:,} distinct ids). The same command "
        f'again: exit {rerun.returncode}, {rerun_seconds:.1f} s, "{summary}".',
        f"- After the rerun: {final[0]:,} rows, {final[1]:,} distinct ids, for {args.images:,} images; the job: "
        f"{last['state']}, {last['done']:,} of {last['total']:,}.",
    ]
    write_section("service_load", "\n".join(lines))
    print("\n".join(lines))
    assert final == (args.images, args.images) and after["state"] == "failed"


_ids: list[str] = []


def next_id(server: Server) -> str:
    """An id already stored (the search is by a stored item's vector)."""
    if not _ids:
        r = httpx.post(f"{server.url}/sql", json={"query": "SELECT id FROM items_photos LIMIT 50"}, timeout=60)
        _ids.extend(row[0] for row in r.json()["rows"])
    return _ids[len(_ids) // 2]


if __name__ == "__main__":
    main()
