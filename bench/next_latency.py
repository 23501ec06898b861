"""p50/p95 latency of POST /sessions/{id}/next with 1,000 labels excluded, at 25k and 1M rows.

    .venv/bin/python -m bench.next_latency                 # build (once) and measure
    .venv/bin/python -m bench.next_latency --build-only    # just load + index (minutes at 1M)

Data: bench.data.synthetic_clip (clustered like CLIP ViT-B/32 embeddings), loaded through the
real DatasetWriter into its own chDB path (one process per path). Requests go through the real
FastAPI app (TestClient), so the figures include HTTP handling, JSON and the SQL round trips.
The 1,000 labeled items are the 1,000 nearest to the session's weights: the worst case for an
ANN post-filter, since every excluded row would otherwise be among the first candidates.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bench.data import synthetic_clip
from bench.report import machine, table, write_section
from vectrain.core.config import Settings
from vectrain.storage.store import Store

SIZES = {"syn25k": 25_000, "syn1m": 1_000_000}


def open_store(path: str) -> Store:
    store = Store(
        Settings(database_url=f"chdb://{path}", database="bench_next", allowed_hosts="testserver"),
        owner="bench.next_latency",
    )
    store.migrate()
    return store


def build(store: Store, name: str, n: int) -> None:
    from vectrain.loaders.writer import DatasetWriter

    if store.table_exists(f"items_{name}") and store.registry.count_rows(name) >= n:
        print(f"{name}: {n} rows already loaded", file=sys.stderr)
        return
    writer = DatasetWriter(store, name, 512, "features", total=n, progress=True)
    for ids, vectors in synthetic_clip(n):
        writer.write(ids=ids, vectors=vectors, normalized=True)
    print(writer.finish().line(), file=sys.stderr)


def measure(
    store: Store, name: str, labeled: int, repeats: int, k: int, strategies=("top", "mixed", "boundary", "random")
) -> list[list]:
    from fastapi.testclient import TestClient

    from vectrain.api.app import create_app
    from vectrain.labeling.sessions import add_labels, create_session
    from vectrain.search.nearest import nearest

    rng = np.random.default_rng(0)
    with TestClient(create_app(store.settings, store)) as api:
        center = next(synthetic_clip(1, seed=7))[1][0]
        sess = create_session(store, name, f"lat_{name}_{int(time.time())}", vector=center.tolist())
        # the `labeled` nearest items to the weights, labeled in batches of 100 through the service
        near = nearest(store, name, center, k=labeled, exact=True, columns="id").items
        for start in range(0, labeled, 100):
            batch = [{"item_id": r["id"], "score": float(rng.choice([-1.0, 1.0]))} for r in near[start : start + 100]]
            add_labels(store, sess["id"], batch)
        labeled_ids = {r["id"] for r in near}
        rows = []
        for strategy in strategies:
            times = []
            for i in range(repeats + 2):
                t = time.perf_counter()
                r = api.post(f"/sessions/{sess['id']}/next", json={"k": k, "strategy": strategy})
                dt = time.perf_counter() - t
                assert r.status_code == 200, r.text
                got = [it["id"] for it in r.json()["items"]]
                assert len(got) == k, f"{strategy}: {len(got)} of {k}"  # exact k held
                assert not set(got) & labeled_ids, "a labeled item came back"
                if i >= 2:  # the first calls warm caches
                    times.append(dt * 1000)
            rows.append(
                [
                    f"{store.registry.count_rows(name):,}",
                    strategy,
                    labeled,
                    k,
                    float(np.percentile(times, 50)),
                    float(np.percentile(times, 95)),
                ]
            )
            print(rows[-1], file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", default="/tmp/vectrain_bench_next", help="chDB data path (kept between runs)")
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--labeled", type=int, default=1000)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--strategies", nargs="+", default=["top", "mixed", "boundary", "random"])
    args = ap.parse_args()
    store = open_store(args.path)
    for name in args.sizes:
        build(store, name, SIZES[name])
    if args.build_only:
        return
    rows = []
    for name in args.sizes:
        rows += measure(store, name, args.labeled, args.repeats, args.k, args.strategies)
    text = (
        f"`POST /sessions/{{id}}/next` through the FastAPI app (TestClient) on embedded chDB, "
        f"{machine()}. Synthetic CLIP-like 512-d vectors (bench/data.py); {args.labeled} labels excluded "
        f"(the nearest to the weights: the post-filter's worst case), k={args.k}, {args.repeats} requests each; "
        "every response was checked to hold exactly k unlabeled items.\n\n"
        + table(["rows", "strategy", "labeled", "k", "p50 ms", "p95 ms"], rows)
        + "\n\nmixed/boundary: range reads of the session's latest scored round (vectrain/labeling/scoring.py); "
        "random: rows at random (part, offset) positions.\n\n"
        f"Command: `.venv/bin/python -m bench.next_latency --repeats {args.repeats} --strategies {' '.join(args.strategies)}`"
    )
    write_section("next_latency", text)
    print(text)


if __name__ == "__main__":
    main()
