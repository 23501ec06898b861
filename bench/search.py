"""Search latency and recall: POST /datasets/{name}/search at 25k and 1M rows.

For each size: load synthetic CLIP-like vectors (bench/data.py) through the real writer
(rows/s, index build seconds), then time the REST endpoint (served by uvicorn in this process; the client, in a process of
its own, holds one keep-alive loopback connection: bench.server.Served) at
k=10 with 0 and 1,000 excluded ids — the 1,000 nearest to the query, the worst case for a
post-filter — through the HNSW index and through the exact scan (the baseline, same run).
Recall@10 of the answers against numpy's exact top-10; exact k is asserted on every query.

    .venv/bin/python -m bench.search                 # 25k and 1M
    .venv/bin/python -m bench.search --sizes 25000   # quick
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

from bench.data import synthetic_clip
from bench.report import machine, table, write_section
from bench.server import Served
from vectrain.api.app import create_app
from vectrain.core.config import Settings
from vectrain.loaders.writer import DatasetWriter
from vectrain.storage.store import Store


def percentile(ms: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(ms), p))


def run_size(path: str, n: int, queries: int, exact_queries: int) -> dict:
    settings = Settings(database_url=f"chdb://{path}", database=f"bench_{n}")
    store = Store(settings, owner="bench.search")
    store.migrate()
    name = f"s{n}"
    if store.table_exists(f"items_{name}"):
        store.registry.drop(name)
    writer = DatasetWriter(store, name, 512, "synthetic", total=n, progress=True)
    parts = []
    for ids, vectors in synthetic_clip(n, seed=1):
        writer.write(ids=ids, vectors=vectors, normalized=True)
        parts.append(vectors)
    summary = writer.finish()
    data = np.concatenate(parts)
    ids = np.array([f"s{i:07d}" for i in range(n)])
    print(summary.line(), flush=True)

    qs = next(synthetic_clip(queries, seed=99))[1]
    truth_sims = data @ qs.T  # [n, queries]
    out = {"n": n, "load_rows_s": summary.rows_per_second, "load_s": summary.seconds, "index_s": summary.index_seconds}
    with Served(create_app(settings, store)) as api:
        for excluded in (0, 1000):
            for mode in ("ann", "exact"):
                count = queries if mode == "ann" else exact_queries
                times, recalls, plans = [], [], []
                for j in range(count):
                    order = np.argsort(-truth_sims[:, j])
                    exclude = ids[order[:excluded]].tolist()
                    want = set(ids[order[excluded : excluded + 10]].tolist())
                    body = {"vector": qs[j].tolist(), "k": 10, "exclude_ids": exclude, "exact": mode == "exact"}
                    r = api.post(f"/datasets/{name}/search", json=body)
                    times.append(r.seconds * 1000)
                    assert r.status_code == 200, r.text
                    got = [i["id"] for i in r.json()["items"]]
                    assert len(got) == 10 and not set(got) & set(exclude), "exact-k broken"
                    recalls.append(len(want & set(got)) / 10)
                    plans.append(r.json()["plan"])
                out[(excluded, mode)] = {
                    "p50": percentile(times, 50),
                    "p95": percentile(times, 95),
                    "recall": float(np.mean(recalls)),
                    "queries": count,
                    "fallbacks": sum(p == "exact" for p in plans) if mode == "ann" else 0,
                }
                print(n, excluded, mode, out[(excluded, mode)], flush=True)
    store.registry.drop(name)
    store.client.command(f"DROP DATABASE IF EXISTS {store.dialect.quote(store.database)}")
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="25000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=20)
    parser.add_argument("--section", default="search", help="BENCHMARKS.md section to write")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="vectrain-bench-") as path:
        for n in (int(s) for s in args.sizes.split(",")):
            results.append(run_size(path, n, args.queries, args.exact_queries))

    rows = []
    for r in results:
        for excluded in (0, 1000):
            ann, exact = r[(excluded, "ann")], r[(excluded, "exact")]
            rows.append(
                [
                    f"{r['n']:,}",
                    excluded,
                    f"{ann['p50']:.1f}",
                    f"{ann['p95']:.1f}",
                    f"{ann['recall']:.3f}",
                    f"{ann['fallbacks']}/{ann['queries']}",
                    f"{exact['p50']:.1f}",
                    f"{exact['p95']:.1f}",
                    f"{exact['recall']:.3f}",
                    f"{exact['p50'] / ann['p50']:.1f}x",
                ]
            )
    loads = [
        [
            f"{r['n']:,}",
            f"{r['load_rows_s']:,.0f}",
            f"{r['load_s']:.1f}",
            f"{r['index_s']:.1f}",
            f"{r['load_s'] + r['index_s']:.1f}",
        ]
        for r in results
    ]
    md = f"""## Search: `POST /datasets/{{name}}/search` (k=10)

`.venv/bin/python -m bench.search --sizes {args.sizes} --queries {args.queries} --exact-queries {args.exact_queries} --section {args.section}`
on {machine()}; embedded chDB; 512-d synthetic vectors clustered like CLIP (bench/data.py).
Latency is the whole REST call, timed by a client in its own process, over loopback to uvicorn
serving the app in the benchmark's process, so it includes HTTP and the JSON of the request (1,000 excluded ids are ~12 KB). Excluded ids are the 1,000 nearest to the query: the
worst case for the index's post-filter. Recall@10 is against numpy's exact top-10 after exclusion.
Exact k was asserted on every query. "fallbacks": ANN answers that came back short and were
answered by the exact scan instead. Speed-up = exact p50 / ANN p50 (same run).

{table(["rows", "excluded", "ANN p50 ms", "ANN p95 ms", "ANN recall@10", "fallbacks", "exact p50 ms", "exact p95 ms", "exact recall@10", "speed-up"], rows)}

Loading (DatasetWriter: Arrow inserts without the index, then one OPTIMIZE FINAL + MATERIALIZE INDEX):

{table(["rows", "insert rows/s", "insert s", "index build s", "end to end s"], loads)}
"""
    write_section(args.section, md)
    print(md)


if __name__ == "__main__":
    main()
