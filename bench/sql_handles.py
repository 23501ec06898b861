"""Do two chDB handles in one process run statements in parallel? (POST /sql's pool relies on it.)

    .venv/bin/python -m bench.sql_handles --repeats 5

A: SELECT sleep(1) on two handles at once, and on one shared handle: waiting needs no CPU, so
   this shows whether the engine overlaps statements of two handles even on a busy machine.
   Then one CPU-bound statement (max_threads=1, so one statement uses one core) timed alone on one
   handle, then two at once from two threads: on two handles, and on one shared handle (which
   the client serializes). On 2 free cores, true parallelism shows as two-at-once ~= alone; on a
   busy machine, as this process using more than one CPU second per wall second.
B: SELECT 1 through the real POST /sql path (AnalystSQL, pool of 2) while another request
   holds the other handle in a 2 s statement: latency of the short request.
The machine is shared: the load average at the start and end is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time

from bench.report import machine, table, write_section
from vectrain.analyst.sql import AnalystSQL
from vectrain.core.config import Settings
from vectrain.storage.store import Store

HEAVY = "SELECT sum(sipHash64(toString(number))) FROM numbers({n})"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def at_once(*fns) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of this process per wall second (above 1.0, more than one
    core was busy at the same time)."""
    threads = [threading.Thread(target=f) for f in fns]
    cpu, start = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return wall, (time.process_time() - cpu) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=8_000_000, help="rows hashed by the CPU-bound statement")
    parser.add_argument("--write", action="store_true", help="write the section of BENCHMARKS.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as path:
        store = Store(Settings(database_url=f"chdb://{path}", database="bench_sql"), owner="bench.sql_handles")
        store.migrate()
        a, b = store.new_client(), store.new_client()
        for client in (a, b):
            client.set_client_setting("max_threads", 1)
        query = HEAVY.format(n=args.rows)
        a.query(query)  # warm up
        # Waiting needs no CPU, so this shows whether the engine overlaps statements of two
        # handles, whatever the load: ~1 s if it does, ~2 s if it runs them one after the other.
        sleep = "SELECT sleep(1)"
        sleeps_two = [at_once(lambda: a.query(sleep), lambda: b.query(sleep))[0] for _ in range(3)]
        sleeps_one = [at_once(lambda: a.query(sleep), lambda: a.query(sleep))[0] for _ in range(3)]
        alone, two_handles, one_handle = [], [], []
        for _ in range(args.repeats):
            alone.append(at_once(lambda: a.query(query)))
            two_handles.append(at_once(lambda: a.query(query), lambda: b.query(query)))
            one_handle.append(at_once(lambda: a.query(query), lambda: a.query(query)))
        a.close()
        b.close()

        settings = store.settings.model_copy(update={"sql_pool_size": 2})
        analyst = AnalystSQL(store.new_client, store.database, settings)
        analyst.run("SELECT 1")
        short = []
        for _ in range(args.repeats):
            slow = threading.Thread(target=lambda: analyst.run("SELECT sleep(2)"))
            slow.start()
            time.sleep(0.3)
            short.append(timed(lambda: analyst.run("SELECT 1")))
            slow.join()
        analyst.close()
        store.close()
    load_after = os.getloadavg()[0]

    def med(runs, i=0):
        return statistics.median(r[i] if isinstance(r, tuple) else r for r in runs)

    rows = [
        [name, med(runs), med(runs, 1), max(r[1] for r in runs)]
        for name, runs in (
            ("one statement alone", alone),
            ("two at once, two handles", two_handles),
            ("two at once, one shared handle", one_handle),
        )
    ]
    text = (
        f"Two chDB handles in one process (embedded ClickHouse 26.9), {machine()}, load average "
        f"{load_before:.1f} before / {load_after:.1f} after (the machine is shared).\n\n"
        f"`SELECT sleep(1)` on two handles at once: median {statistics.median(sleeps_two):.2f} s wall "
        f"(on one shared handle: {statistics.median(sleeps_one):.2f} s). A CPU-bound statement "
        f"(`{HEAVY.format(n=args.rows)}`, max_threads=1), median of {args.repeats}:\n\n"
        + table(["run", "wall s", "CPU s per wall s", "max CPU s per wall s"], rows)
        + f"\n\nTwo at once on two handles took {med(two_handles) / med(alone):.2f}x the wall time of one alone "
        f"(1.0 = fully parallel, 2.0 = one after the other); on one shared handle {med(one_handle) / med(alone):.2f}x. "
        "CPU seconds per wall second under 1.0 alone mean the process did not get a whole core: the CPU "
        "figures then say more about the machine's load than about the engine. "
        f"`SELECT 1` through POST /sql's path (pool of 2) while the other handle ran `SELECT sleep(2)`: "
        f"median {med(short) * 1000:.1f} ms, max {max(short) * 1000:.1f} ms.\n\n"
        f"Command: `.venv/bin/python -m bench.sql_handles --repeats {args.repeats} --write`"
    )
    print(text)
    if args.write:
        write_section("sql_handles", text)


if __name__ == "__main__":
    main()
