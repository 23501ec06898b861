"""The hardening review's reproducers against a real service, with what each costs in memory.

    .venv/bin/python -m bench.bombs                  # every reproducer, a table on stdout
    .venv/bin/python -m bench.bombs --section bombs  # and BENCHMARKS.md's section

Starts `vectrain serve` in its own process on a fresh chDB path (the offline demo loaded, a load
root set), then sends each reproducer of issue 24 and reads the server's memory from
/proc/<pid>/status: its resident set before, and its peak while the request (or the job it
started) ran (VmHWM, reset before each through /proc/<pid>/clear_refs). Each answer is checked
(a 4xx, a cut result, a failed job with its message), and the service must still answer after
each. The bound to hold: no request or file under 20 MB grows the service by more than 500 MB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.report import machine, table, write_section
from bench.server import start_server

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 500


def status(pid: int, field: str) -> float:
    """A memory field of /proc/<pid>/status, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


def wait_job(http: httpx.Client, job: dict, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while job["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = http.get(f"/jobs/{job['id']}").json()
    return job


# -- the reproducers: each returns (what it sent, what came back) ---------------------------------
def sql_result(http: httpx.Client, root: Path) -> tuple[str, str]:
    r = http.post("/sql", json={"query": "SELECT repeat('é', 1000000) FROM numbers(100)"}, timeout=120)
    body = r.json()
    return "`SELECT repeat('é', 1000000) FROM numbers(100)`", (
        f"{r.status_code}, {len(r.content) / 1e6:.1f} MB body, {len(body.get('rows', []))} rows, "
        f"truncated {str(body.get('truncated')).lower()}"
    )


def _sql(query: str) -> Callable[[httpx.Client, Path], tuple[str, str]]:
    def run(http: httpx.Client, root: Path) -> tuple[str, str]:
        r = http.post("/sql", json={"query": query}, timeout=120)
        body = r.json()
        if r.status_code != 200:
            return f"`{query}`", f"{r.status_code} {body.get('code')}"
        return f"`{query}`", (
            f"200, {len(r.content) / 1e6:.1f} MB body, {len(body['rows'])} rows, "
            f"truncated {str(body['truncated']).lower()}"
        )

    return run


def sql_two_at_once(http: httpx.Client, root: Path) -> tuple[str, str]:
    from concurrent.futures import ThreadPoolExecutor

    query = "SELECT repeat('é', 100000) FROM numbers(300)"
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: _sql(query)(http, root)[1], range(2)))
    return f"`{query}`, two at once", "; ".join(answers)


def sql_non_utf8(http: httpx.Client, root: Path) -> tuple[str, str]:
    r = http.post("/sql", json={"query": "SELECT '\\xff' AS v, unhex('ff') AS b"})
    return "`SELECT '\\xff' AS v, unhex('ff') AS b`", f"{r.status_code}, rows {r.json().get('rows')}"


REPRODUCERS: list[tuple[str, Callable[[httpx.Client, Path], tuple[str, str]]]] = [
    ("/sql result of 200 MB", sql_result),
    ("/sql 60 MB in one block", _sql("SELECT repeat('é', 100000) FROM numbers(300)")),
    ("/sql 60 MB in one block, twice", sql_two_at_once),
    ("/sql one 70 MB value", _sql("SELECT arrayMap(x -> repeat('é', 1000000), range(35))")),
    ("/sql an array of 9M numbers", _sql("SELECT range(9000000)")),
    ("/sql bytes that are not UTF-8", sql_non_utf8),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", default=None, help="write the results to this BENCHMARKS.md section")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vectrain-bombs-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        os.environ["VECTRAIN_LOAD_ROOTS"] = str(root)
        os.environ["VECTRAIN_DATA_DIR"] = str(Path(tmp) / "data")
        server, url = start_server(Path(tmp) / "db")
        try:
            with httpx.Client(base_url=url, timeout=60) as http:
                for name, reproduce in REPRODUCERS:
                    before = status(server.pid, "VmRSS")
                    reset_peak(server.pid)
                    sent, answer = reproduce(http, root)
                    peak = status(server.pid, "VmHWM")
                    alive = http.get("/health").status_code == 200
                    growth = peak - before
                    rows.append([name, sent, answer, round(before), round(growth), "yes" if alive else "NO"])
                    print(rows[-1], file=sys.stderr)
        finally:
            server.kill()
            server.wait()
    text = table(["reproducer", "sent", "answer", "RSS before MB", "peak growth MB", "serving after"], rows)
    print(text)
    worst = max(r[4] for r in rows)
    verdict = f"Largest growth {worst} MB (bound: {LIMIT_MB} MB)."
    print(verdict)
    if args.section:
        write_section(
            args.section,
            f"""## Hostile requests and files: memory

`python -m bench.bombs --section {args.section}` ({machine()}, load average {os.getloadavg()[0]:.1f}):
the reproducers of the hardening review against `vectrain serve` in its own process; the server's resident
memory before each, and its peak while the request or the job it started ran (VmHWM, reset before each).

{text}

{verdict}
""",
        )
    if worst > LIMIT_MB or any(r[5] != "yes" for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
