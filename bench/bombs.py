"""The hardening review's reproducers against a real service, with what each costs in memory.

    .venv/bin/python -m bench.bombs                  # every reproducer, a table on stdout
    .venv/bin/python -m bench.bombs --section bombs  # and BENCHMARKS.md's section

Starts `vectrain serve` in its own process on a fresh chDB path (a load root set), then sends
each reproducer of issue 24 (the /sql statements here, the hostile files of bench.bomb_files
uploaded or named under the root, each job followed to its end) and reads the server's memory
from /proc/<pid>/status: its resident set before, and its peak while the request (or the job it
started) ran (VmHWM, reset before each through /proc/<pid>/clear_refs). Each answer is recorded
(a 4xx, a cut result, a failed or cancelled job with its message), and the service must still
answer GET /datasets after each. The bound to hold: no request or file under 20 MB grows the
service by more than 500 MB.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.bomb_files import make_files, reproducers
from bench.report import machine, table, write_section
from bench.server import start_server

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 500
KILL_MB = 4000  # the service's resident set at which a reproducer is stopped (Watchdog)


def status(pid: int, field: str) -> float:
    """A memory field of /proc/<pid>/status, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


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


class Watchdog(threading.Thread):
    """Kills the service once its resident set passes KILL_MB: the machine is shared, and a bomb
    that is not bounded would take it all (a 0.8 MB Parquet file took 23 GB before the OOM killer)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.killed, self.done = pid, False, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            try:
                if status(self.pid, "VmRSS") > KILL_MB:
                    self.killed = True
                    os.kill(self.pid, signal.SIGKILL)
                    return
            except (OSError, KeyError):
                return


def measure(server, http: httpx.Client, root: Path, reproduce) -> tuple[str, str, float, float, bool]:
    """(sent, answer, RSS before, peak growth, serving after) of one reproducer."""
    before = status(server.pid, "VmRSS")
    reset_peak(server.pid)
    watchdog = Watchdog(server.pid)
    watchdog.start()
    try:
        sent, answer = reproduce(http, root)
    except httpx.HTTPError as exc:
        sent, answer = "(see the reproducer)", f"no answer: {type(exc).__name__} {exc}"
    watchdog.done.set()
    watchdog.join()
    if watchdog.killed or server.poll() is not None:
        reason = f"killed by this bench past {KILL_MB} MB" if watchdog.killed else f"exited {server.returncode}"
        return sent, f"{answer}; the service was {reason}", before, KILL_MB - before, False
    peak = status(server.pid, "VmHWM")
    try:
        alive = http.get("/datasets").status_code == 200
    except httpx.HTTPError:
        alive = False
    return sent, answer, before, peak - before, alive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", default=None, help="write the results to this BENCHMARKS.md section")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vectrain-bombs-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        started = time.monotonic()
        files = make_files(Path(tmp) / "files", root)
        print(f"files made in {time.monotonic() - started:.0f} s", file=sys.stderr)
        os.environ["VECTRAIN_LOAD_ROOTS"] = str(root)
        os.environ["VECTRAIN_DATA_DIR"] = str(Path(tmp) / "data")
        server = None
        try:
            for name, reproduce in REPRODUCERS + reproducers(files):
                if server is None or server.poll() is not None:  # a fresh service after one was killed
                    server, url = start_server(Path(tmp) / "db")
                with httpx.Client(base_url=url, timeout=60) as http:
                    sent, answer, before, growth, alive = measure(server, http, root, reproduce)
                rows.append([name, sent, answer, round(before), round(growth), "yes" if alive else "NO"])
                print(rows[-1], file=sys.stderr)
        finally:
            if server is not None:
                server.kill()
                server.wait()
    text = table(["reproducer", "sent", "answer", "RSS before MB", "peak growth MB", "serving after"], rows)
    print(text)
    worst = max(r[4] for r in rows)
    verdict = f"Largest growth {worst} MB (bound: {LIMIT_MB} MB)."
    killed = sum("killed by this bench" in r[2] for r in rows)
    killed = f"{killed} killed" if killed else "none was"
    print(verdict)
    if args.section:
        write_section(
            args.section,
            f"""## Hostile requests and files: memory

`python -m bench.bombs --section {args.section}` ({machine()}, load average {os.getloadavg()[0]:.1f}):
the reproducers of the hardening review against `vectrain serve` in its own process; the server's resident
memory before each, and its peak while the request or the job it started ran (VmHWM, reset before each);
each file (made by bench.bomb_files: small on disk, declaring or decoding to gigabytes) is uploaded with
source=features or named under the load root, and its job followed to its end (GET /jobs/{{id}}); "serving
after" is GET /datasets answering 200. A service past {KILL_MB:,} MB is killed by the bench ({killed}).

{text}

{verdict}
""",
        )
    if worst > LIMIT_MB or any(r[5] != "yes" for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
