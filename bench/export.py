"""The memory of `vectrain serve` while it streams a 1M-row dataset export.

    .venv/bin/python -m bench.export --rows 1000000

Loads --rows synthetic 512-d vectors (bench.data, clustered like CLIP) into dataset `big` on a
chDB path under bench/out/ (kept, so a rerun only measures; --rebuild starts over; no HNSW
index: an export does not use it), starts `vectrain serve` on that path as its own process, and
downloads GET /datasets/big/export as Parquet and CSV, without and with vectors, while a thread
samples the server's VmRSS (/proc/<pid>/status) every 50 ms. Each download is counted (bytes,
and rows: the Parquet footer of the saved file, the CSV's lines) and then deleted.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

import httpx

from bench.data import synthetic_clip
from bench.report import ROOT, machine, table, write_section
from bench.server import start_server
from vectrain.jobs import exports

OUT = ROOT / "bench" / "out"
DIM = 512
CASES = [("parquet", False), ("csv", False), ("parquet", True), ("csv", True)]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.pid))


def load(path: Path, rows: int, rebuild: bool) -> None:
    from vectrain.core.config import Settings
    from vectrain.loaders.writer import DatasetWriter
    from vectrain.storage.store import Store

    if rebuild and path.exists():
        import shutil

        shutil.rmtree(path)
    store = Store(Settings(database_url=f"chdb://{path}", ann_index_max_dim=DIM - 1), owner="bench.export")
    store.migrate()
    try:
        if store.registry.exists("big") and store.registry.count_rows("big") == rows:
            return
        writer = DatasetWriter(store, "big", DIM, "synthetic", total=rows)
        for ids, vectors in synthetic_clip(rows, DIM):
            writer.write(
                ids=ids,
                vectors=vectors,
                labels=[f"c{hash(i) % 10}" for i in ids],
                splits=["test" if i.endswith("0") else "train" for i in ids],
                normalized=True,
            )
        writer.finish()
    finally:
        store.close()


def export(url: str, pid: int, fmt: str, vectors: bool, scratch: Path) -> dict:
    time.sleep(1.0)  # let the previous download's memory settle
    before = rss_mb(pid)
    sampler = Sampler(pid)
    sampler.start()
    started = time.perf_counter()
    size = lines = 0
    target = scratch / f"export.{fmt}"
    with (
        httpx.stream(
            "GET", f"{url}/datasets/big/export", params={"format": fmt, "vectors": str(vectors).lower()}, timeout=None
        ) as response,
        open(target, "wb") as out,
    ):
        response.raise_for_status()
        for chunk in response.iter_bytes(1 << 20):
            size += len(chunk)
            lines += chunk.count(b"\n")
            out.write(chunk)
    seconds = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(target).metadata.num_rows
    else:
        rows = lines - 1  # the header
    target.unlink()
    return {
        "format": fmt,
        "vectors": vectors,
        "rows": rows,
        "mb": size / 1e6,
        "seconds": seconds,
        "mb_per_s": size / 1e6 / seconds,
        "rss_before": before,
        "rss_peak": max(sampler.peak, before),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    path = OUT / f"export-{args.rows}"
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load(path, args.rows, args.rebuild)
    print(f"dataset big: {args.rows:,} x {DIM} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    proc, url = start_server(path)
    try:
        idle = rss_mb(proc.pid)
        results = []
        for fmt, vectors in CASES:
            r = export(url, proc.pid, fmt, vectors, OUT)
            print(r, file=sys.stderr)
            assert r["rows"] == args.rows, r
            results.append(r)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    load_avg = os.getloadavg()[0]
    rows = [
        [
            r["format"],
            "yes" if r["vectors"] else "no",
            f"{r['rows']:,}",
            f"{r['mb']:,.0f}",
            f"{r['seconds']:.1f}",
            f"{r['mb_per_s']:.0f}",
            f"{r['rss_before']:.0f}",
            f"{r['rss_peak']:.0f}",
            f"{r['rss_peak'] - r['rss_before']:+.0f}",
        ]
        for r in results
    ]
    write_section(
        "export",
        "\n".join(
            [
                "## Export: `GET /datasets/{name}/export` from a running `vectrain serve`",
                "",
                f"`.venv/bin/python -m bench.export --rows {args.rows}` on {machine()}; embedded chDB; "
                f"{args.rows:,} rows x {DIM}-d synthetic vectors; load average {load_avg:.1f} at the end. RSS is the "
                f"server process's VmRSS, sampled every 50 ms during each download ({idle:.0f} MB idle after start-up).",
                "",
                table(
                    [
                        "format",
                        "vectors",
                        "rows",
                        "MB sent",
                        "s",
                        "MB/s",
                        "RSS before (MB)",
                        "RSS peak (MB)",
                        "peak - before (MB)",
                    ],
                    rows,
                ),
                "",
                f"Pages are ranges of the primary key read one query each ({exports.PAGE_ROWS:,} rows, or "
                f"{exports.VECTOR_PAGE_VALUES // DIM:,} with {DIM}-d vectors), so the server holds one page and one Parquet "
                "row group at a time: its memory does not grow with the rows "
                "exported. The same table streamed through the driver's Arrow stream would be held whole (on chDB the "
                "driver materializes an `ArrowStream` result; the vectors alone are 2 GB here).",
            ]
        ),
    )


if __name__ == "__main__":
    main()
