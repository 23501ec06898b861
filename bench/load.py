"""A bounded loopback load test of the running service: search, next batch and labels.

    .venv/bin/python -m bench.load                      # 8 clients, 20 s per endpoint, digits demo
    .venv/bin/python -m bench.load --clients 8 --seconds 20 --section load

Starts `vectrain serve` in its own process on a fresh chDB path with the offline demo (digits),
then drives it over HTTP from N client threads, one endpoint at a time: requests/s, p50/p95/p99
latency, errors (any non-2xx or transport error). Then it checks that every label batch the
service acknowledged is stored, each item exactly once, after the server is killed with SIGKILL
and started again.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from bench.report import machine, table, write_section
from bench.server import start_server

ROOT = Path(__file__).resolve().parent.parent


def drive(url: str, clients: int, seconds: float, request) -> dict:
    """Run `request(http, worker, n)` from `clients` threads for `seconds`; latencies and errors."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(w: int):
        nonlocal errors
        mine, bad, n = [], 0, 0
        with httpx.Client(base_url=url, timeout=60) as http:
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    ok = request(http, w, n)
                except httpx.HTTPError:
                    ok = False
                mine.append(time.perf_counter() - started)
                bad += not ok
                n += 1
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    started = time.monotonic()
    [t.start() for t in threads]
    [t.join() for t in threads]
    wall = time.monotonic() - started
    ms = np.asarray(latencies) * 1000
    return {
        "requests": len(ms),
        "rps": len(ms) / wall,
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="per endpoint")
    parser.add_argument("--section", default=None, help="write the results to this BENCHMARKS.md section")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # the machine's own load: other work stretches every figure

    with tempfile.TemporaryDirectory(prefix="vectrain-load-") as tmp:
        path = str(Path(tmp) / "db")
        env = {**os.environ, "VECTRAIN_DATABASE_URL": f"chdb://{path}"}
        subprocess.run(
            [sys.executable, "-m", "vectrain.cli.main", "load", "demo"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        server, url = start_server(path)
        try:
            ids = [f"digit-{i:04d}" for i in range(1797)]
            rng = np.random.default_rng(0)
            session = httpx.post(
                f"{url}/sessions",
                json={"dataset": "digits", "name": "load", "positive_ids": ["digit-0000", "digit-0010"]},
            ).json()
            sid = session["id"]
            results = {}

            def search(http, w, n):
                r = http.post(
                    "/datasets/digits/search",
                    json={"item_id": ids[(w * 997 + n) % len(ids)], "k": 10, "exclude_ids": ids[:100]},
                )
                return r.status_code == 200 and len(r.json()["items"]) == 10

            def next_batch(http, w, n):
                r = http.post(
                    f"/sessions/{sid}/next", json={"k": 10, "strategy": ("mixed", "top", "boundary", "random")[n % 4]}
                )
                return r.status_code == 200 and len(r.json()["items"]) == 10

            acknowledged: dict[str, float] = {}
            ack_lock = threading.Lock()

            def label(http, w, n):
                batch = [
                    {"item_id": ids[(w * 211 + n * 5 + j) % len(ids)], "score": float(rng.choice([-1, 1]))}
                    for j in range(5)
                ]
                r = http.post(f"/sessions/{sid}/labels", json={"labels": batch})
                if r.status_code == 200:
                    with ack_lock:
                        acknowledged.update({b["item_id"]: b["score"] for b in batch})
                return r.status_code == 200

            for name, request in (
                ("search (k=10, 100 excluded)", search),
                ("next (4 strategies)", next_batch),
                ("labels (batches of 5)", label),
            ):
                results[name] = drive(url, args.clients, args.seconds, request)
                print(name, results[name], file=sys.stderr)
            server.send_signal(signal.SIGKILL)
            server.wait()
            server, url = start_server(path)
            stored = httpx.get(f"{url}/sessions/{sid}/labels").json()["labels"]
            by_id = {s["item_id"]: s["score"] for s in stored}
            lost = [i for i in acknowledged if i not in by_id]
            duplicated = len(stored) - len(by_id)
            wrong = [i for i, s in acknowledged.items() if by_id.get(i) is not None and by_id[i] not in (-1.0, 1.0)]
        finally:
            server.kill()
            server.wait()

    rows = [
        [
            name,
            r["requests"],
            round(r["rps"], 1),
            round(r["p50"], 1),
            round(r["p95"], 1),
            round(r["p99"], 1),
            r["errors"],
        ]
        for name, r in results.items()
    ]
    text = table(["endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"], rows)
    check = (
        f"Acknowledged labels after `kill -9` and a restart: {len(acknowledged) - len(lost):,} of "
        f"{len(acknowledged):,} distinct items stored ({len(lost)} lost, {duplicated} duplicated, "
        f"{len(wrong)} with a wrong score)."
    )
    print(text)
    print(check)
    if args.section:
        write_section(
            args.section,
            f"""## Load test over loopback

`python -m bench.load --clients {args.clients} --seconds {args.seconds:g} --section {args.section}` ({machine()}):
the service in its own process (`vectrain serve`, digits demo), {args.clients} client threads in another,
{args.seconds:g} s per endpoint. Load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after.

{text}

{check}
""",
        )
    if lost or duplicated or any(r["errors"] for r in results.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
