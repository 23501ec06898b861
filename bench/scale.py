"""The interactive loop and batch work at scale, each next to the bare engine on the same table
in the same run.

    .venv/bin/python -m bench.scale --rows 1000000 --quantization f32
    .venv/bin/python -m bench.scale --rows 1000000 --quantization bf16 --baseline-build
    .venv/bin/python -m bench.scale --summary          # f32 vs bf16, and the projection to 10M
    .venv/bin/python -m bench.scale --render           # rewrite the sections from bench/plots, run nothing

One process, one chDB path per (rows, quantization) under bench/out/ (kept, so a rerun measures
without rebuilding; --rebuild starts over). Data: bench.data.synthetic_clip, clustered like real
CLIP ViT-B/32 embeddings. Requests go to the real app served by uvicorn in this process (it shares
the chDB engine with the bare queries), from a client in a process of its own over one keep-alive
loopback connection (bench.server.Served), so the figures include HTTP, JSON and every SQL round
trip; "HTTP alone" is the same request to an endpoint doing
no work. The 1,000 labeled items are the 1,000
nearest to the session's weights: the worst case for a post-filtered index query.

Measured: load (insert) and index build, with the bare `MATERIALIZE INDEX` of the same table
(--baseline-build); `POST /sessions/{id}/next` per strategy (p50/p95, exact k, no labeled item,
top's recall@k against the exact answer); search with the 1,000 nearest excluded and without
exclusions, against the best bare query; zero-shot of every row against 100 labels, stored,
against numpy multiplying the same vectors; apply; the process's RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

from bench import loop_scale
from bench.data import synthetic_clip
from bench.report import BENCHMARKS, PLOTS, ROOT, machine, table, write_section
from vectrain.storage.itemvectors import block_rows

OUT = ROOT / "bench" / "out"
LABELED = 1000
K = 10


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(times: list[float]) -> tuple[float, float]:
    ms = np.asarray(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def _elapsed(fn) -> tuple[float, object]:
    """fn's seconds: an HTTP answer's own (timed in the client's process), else the wall time."""
    started = time.perf_counter()
    out = fn()
    return getattr(out, "seconds", time.perf_counter() - started), out


def paired(fa, fb, repeats: int) -> tuple[list[float], list[float]]:
    """fa then fb, `repeats` times: each pair sees the same machine state (the p50s of separate
    loops drifted by 5-10 ms between runs, on one 2-core machine)."""
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(_elapsed(fa)[0])
        tb.append(_elapsed(fb)[0])
    return ta, tb


def paired_varied(fa, fb, vectors) -> tuple[list[float], list[float]]:
    """fa(v) and fb(v) for each vector v, the order alternating pair by pair: a labeling loop never
    repeats a query, so this checks that neither a repeated query nor always going second is what
    the pairs measure."""
    ta, tb = [], []
    for i, v in enumerate(vectors):
        first, second = (fa, fb) if i % 2 == 0 else (fb, fa)
        t1, t2 = _elapsed(lambda: first(v))[0], _elapsed(lambda: second(v))[0]
        ta.append(t1 if i % 2 == 0 else t2)
        tb.append(t2 if i % 2 == 0 else t1)
    return ta, tb


def paired_summary(ta: list[float], tb: list[float]) -> dict:
    """p50s of the pairs, and the ratio of the p50s in each consecutive third: the spread a
    single figure hides."""
    thirds = [slice(i * len(ta) // 3, (i + 1) * len(ta) // 3) for i in range(3)]
    return {
        "service": percentiles(ta)[0],
        "bare": percentiles(tb)[0],
        "pairs": len(ta),
        "thirds": [percentiles(ta[t])[0] / percentiles(tb[t])[0] for t in thirds],
    }


def process_counters() -> tuple[int, int]:
    """(bytes this process has read from disk, its minor page faults) so far: what a timed step
    cost besides CPU, read from the kernel's own accounting."""
    io = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines() if ": " in line)
    return int(io["read_bytes"]), resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def settle(store, limit_s: float = 300.0) -> float:
    """Wait for the engine's background merges (of the rows the last step wrote) to finish, so a
    timed step runs on a quiet engine; returns the seconds waited."""
    started = time.perf_counter()
    while store.client.query("SELECT count() FROM system.merges").result_rows[0][0]:
        if time.perf_counter() - started > limit_s:
            break
        time.sleep(0.2)
    return time.perf_counter() - started


def timed(fn, repeats: int) -> tuple[list[float], object]:
    out, times = None, []
    for _ in range(repeats):
        seconds, out = _elapsed(fn)
        times.append(seconds)
    return times, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quantization", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--labels", type=int, default=100, help="zero-shot labels")
    parser.add_argument(
        "--baseline-build",
        action="store_true",
        help="also time a bare MATERIALIZE INDEX of the same table (another full build)",
    )
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--build-only", action="store_true", help="load the table and build its index (kept for later runs), then stop"
    )
    parser.add_argument("--no-write", action="store_true", help="print the section; leave BENCHMARKS.md alone")
    parser.add_argument(
        "--no-batch",
        action="store_true",
        help="skip zero-shot, apply and the numpy baseline (its copy of every vector) at large sizes",
    )
    parser.add_argument(
        "--pairs", type=int, default=300, help="pairs for the service-against-bare search comparisons (a few ms each)"
    )
    parser.add_argument(
        "--recall-queries",
        type=int,
        default=100,
        help="queries (each with its own 1,000 nearest excluded) for the search's and `next` top's "
        "mean recall: one query's recall@10 moves in steps of 0.1, so the mean needs many",
    )
    parser.add_argument("--summary", action="store_true", help="write the comparison and projection section")
    parser.add_argument(
        "--render",
        action="store_true",
        help="rewrite each run's section from its stored figures (bench/plots), running nothing",
    )
    args = parser.parse_args()
    if args.summary:
        return summary()
    if args.render:
        for path in sorted(PLOTS.glob("scale_*.json")):
            if f"<!-- bench:{path.stem} -->" in BENCHMARKS.read_text():
                write_section(path.stem, report(args, json.loads(path.read_text())))
        return None
    result = run(args)
    PLOTS.mkdir(parents=True, exist_ok=True)
    out = PLOTS / f"scale_{args.rows}_{args.quantization}.json"
    if args.build_only:
        if "insert_s" in result:
            result["built"] = result["machine"].rsplit(", ", 1)[-1]
            (OUT / f"scale_{args.rows}_{args.quantization}.build.json").write_text(json.dumps(result, indent=2))
        return None
    build = OUT / f"scale_{args.rows}_{args.quantization}.build.json"
    if "insert_s" not in result and (build.exists() or out.exists()):  # the table was kept: its load figures
        built = json.loads((build if build.exists() else out).read_text())
        for key in ("insert_s", "insert_rows_s", "build_s", "bare_build_s", "ef_construction"):
            if key in built and key not in result:
                result[key] = built[key]
        result["built"] = built.get("built") or built["machine"].rsplit(", ", 1)[-1]
    if args.no_write:
        print(report(args, result))
        return None
    out.write_text(json.dumps(result, indent=2))
    write_section(f"scale_{args.rows}_{args.quantization}", report(args, result))


def run(args) -> dict:
    import shutil

    from bench.server import Served, http_floor_app
    from vectrain.api.app import create_app
    from vectrain.core.config import Settings
    from vectrain.loaders.writer import DatasetWriter
    from vectrain.storage.query import Floats, Query
    from vectrain.storage.store import Store
    from vectrain.storage.vectorsql.filters import HNSW_EF_CONSTRUCTION

    path = OUT / f"scale_{args.rows}_{args.quantization}"
    if args.rebuild and path.exists():
        shutil.rmtree(path)
    settings = Settings(
        database_url=f"chdb://{path}", database="scale", ann_quantization=args.quantization, batch_time_budget=3600
    )
    store = Store(settings, owner="bench.scale")
    store.migrate()
    result: dict = {
        "rows": args.rows,
        "quantization": args.quantization,
        "machine": machine(),
        "repeats": args.repeats,
        "labels": args.labels,
    }
    name = "syn"
    table_name = f"{store.database}.items_{name}"
    if not store.registry.exists(name) or store.registry.count_rows(name) < args.rows:
        writer = DatasetWriter(store, name, 512, "features", total=args.rows, progress=True)
        for ids, vectors in synthetic_clip(args.rows):
            writer.write(ids=ids, vectors=vectors, normalized=True)
        summary_ = writer.finish()
        result["insert_s"] = summary_.seconds
        result["insert_rows_s"] = summary_.rows_per_second
        result["build_s"] = summary_.index_seconds
        result["ef_construction"] = HNSW_EF_CONSTRUCTION
        print(summary_.line(), file=sys.stderr)
    if args.build_only:
        store.close()
        return result
    if args.baseline_build:
        store.client.command(f"ALTER TABLE {table_name} CLEAR INDEX vi", settings={"mutations_sync": 2})
        started = time.perf_counter()
        store.client.command(f"ALTER TABLE {table_name} MATERIALIZE INDEX vi", settings={"mutations_sync": 2})
        result["bare_build_s"] = time.perf_counter() - started
        store.registry.forget(name)
    result["index_bytes"] = int(
        store.client.query(
            "SELECT sum(secondary_indices_compressed_bytes) FROM system.parts WHERE active AND database = 'scale' "
            "AND table = {t:String}",
            parameters={"t": f"items_{name}"},
        ).result_rows[0][0]
    )
    result["rss_after_load_mb"] = rss_mb()
    result["load_measured"] = os.getloadavg()[0]  # other processes' work stretches every figure below

    center = next(synthetic_clip(1, seed=7))[1][0]
    q = center.tolist()
    dist = "cosineDistance(vector, {q:Array(Float32)})"
    exact = [
        r[0]
        for r in store.client.query(
            f"SELECT id FROM {table_name} ORDER BY {dist} LIMIT {LABELED + K}",
            parameters={"q": q},
            settings={"use_skip_indexes": 0},
        ).result_rows
    ]
    labeled, truth = exact[:LABELED], exact[LABELED:]
    reps = args.repeats
    # Recall is a mean over more queries than the timed one, each with its own 1,000 nearest excluded.
    recall_set = []
    for v in next(synthetic_clip(args.recall_queries, seed=21))[1]:
        nearest = [
            r[0]
            for r in store.client.query(
                f"SELECT id FROM {table_name} ORDER BY {dist} LIMIT {LABELED + K}",
                parameters={"q": Floats(v)},
                settings={"use_skip_indexes": 0},
            ).result_rows
        ]
        recall_set.append((v, nearest[:LABELED], set(nearest[LABELED:])))

    # -- the bare engine on the same table ------------------------------------------------------------
    # Each bare query returns the columns the service's search answers with (id, url, label, score).
    # The vector is bound as the service binds it (Floats: one pre-formatted parameter); the bare
    # query with clickhouse-connect formatting a Python list is measured once, for reference.
    def bare(sql, params, settings):
        return store.client.query(sql, parameters={"q": Floats(q), **params}, settings=settings).result_rows

    top_sql = f"SELECT id, url, label, 1 - {dist} AS score FROM {table_name} ORDER BY {dist} LIMIT {K}"
    bare_top, _ = timed(lambda: bare(top_sql, {}, {}), reps)
    bare_top_list, _ = timed(lambda: store.client.query(top_sql, parameters={"q": q}).result_rows, reps)
    store.client.command(
        "CREATE TABLE IF NOT EXISTS scale.bench_labels (session_id String, item_id String) "
        "ENGINE = MergeTree ORDER BY (session_id, item_id)"
    )
    store.client.command("TRUNCATE TABLE scale.bench_labels")
    store.client.insert(
        "bench_labels",
        [["b", i] for i in labeled] + [[f"r{n}", i] for n, (_, excluded, _) in enumerate(recall_set) for i in excluded],
        column_names=["session_id", "item_id"],
        database="scale",
    )
    bare_variants, variant_queries = {}, {}
    # 4x and 6x: on tables whose graph needs a deeper list to reach mean recall 0.97 (300k here)
    variants = [(f"ef {m}x fetch", m * (LABELED + K), 0) for m in (1, 2, 3, 4, 6)]
    if args.quantization != "f32":
        # a quantized index orders by approximate distances; rescoring reads the exact vectors back
        variants.append(("ef 2x fetch, rescoring", 2 * (LABELED + K), 1))
    for label, ef, rescoring in variants:
        sql = (
            f"SELECT id, url, label, 1 - {dist} AS score FROM {table_name} WHERE id NOT IN "
            f"(SELECT item_id FROM scale.bench_labels WHERE session_id = {{sid:String}}) ORDER BY {dist} LIMIT {K}"
        )
        settings_ = {
            "vector_search_index_fetch_multiplier": (LABELED + K) // K,
            "max_limit_for_vector_search_queries": LABELED + K,
            "hnsw_candidate_list_size_for_search": ef,
            "vector_search_with_rescoring": rescoring,
        }
        variant_queries[label] = (sql, settings_)
        times, rows = timed(lambda: bare(sql, {"sid": "b"}, settings_), reps)
        recalls = [
            len(
                {
                    r[0]
                    for r in store.client.query(
                        sql, parameters={"q": Floats(v), "sid": f"r{n}"}, settings=settings_
                    ).result_rows
                }
                & want
            )
            / K
            for n, (v, _, want) in enumerate(recall_set)
        ]
        bare_variants[label] = {
            "p50": percentiles(times)[0],
            "p95": percentiles(times)[1],
            "rows": len(rows),
            "recall": len({r[0] for r in rows} & set(truth)) / K,
            "mean_recall": float(np.mean(recalls)),
        }
    exact_times, _ = timed(
        lambda: bare(f"SELECT id FROM {table_name} ORDER BY {dist} LIMIT {K}", {}, {"use_skip_indexes": 0}), 3
    )
    result["bare"] = {
        "top10": percentiles(bare_top),
        "top10_list_bound": percentiles(bare_top_list),
        "excluded": bare_variants,
        "exact_scan": percentiles(exact_times),
    }
    # HTTP alone: the same request to an endpoint of the same shape that does no work
    with Served(http_floor_app()) as floor:
        times, _ = timed(lambda: floor.post("/search", json={"vector": q, "k": K}), reps * 3)
    result["http_floor"] = percentiles(times)

    # -- vectrain through the API, served by uvicorn over loopback (one keep-alive connection) -------
    with Served(create_app(store.settings, store)) as api:
        s = api.post("/sessions", json={"dataset": name, "name": f"scale_{int(time.time())}", "vector": q}).json()
        for start in range(0, LABELED, 500):
            r = api.post(
                f"/sessions/{s['id']}/labels",
                json={"labels": [{"item_id": i, "score": -1.0} for i in labeled[start : start + 500]]},
            )
            assert r.status_code == 200, r.text
        next_results = {}
        labeled_set = set(labeled)
        # This session is untrained (round 0): top is the seeds' query on the index, random the
        # uniform sample; the loop's strategies on a trained session are bench.loop_scale's.
        for strategy in ("top", "random"):
            times, violations, got = [], 0, []
            for _ in range(reps):
                r = api.post(f"/sessions/{s['id']}/next", json={"k": K, "strategy": strategy})
                times.append(r.seconds)
                got = [i["id"] for i in r.json()["items"]]
                violations += (len(got) != K) + len(set(got) & labeled_set)
            p50, p95 = percentiles(times)
            entry = {"p50": p50, "p95": p95, "violations": violations}
            if strategy == "top":
                entry["recall"] = len(set(got) & set(truth)) / K
            next_results[strategy] = entry
            print(strategy, entry, file=sys.stderr)
        result["next"] = next_results
        result["loop"] = loop_scale.measure_next(api, store, table_name, name, q, labeled, reps)
        print("loop", result["loop"], file=sys.stderr)
        oracle = {
            r[0]
            for r in store.client.query(
                f"SELECT id FROM {table_name} ORDER BY {dist} LIMIT 3000",
                parameters={"q": q},
                settings={"use_skip_indexes": 0},
            ).result_rows
        }
        result["enter"] = loop_scale.enter_path(api, name, q, oracle)
        print("enter", result["enter"], file=sys.stderr)

        def search(body):
            return api.post(f"/datasets/{name}/search", json=body)

        times, out = timed(lambda: search({"vector": q, "k": K}), reps)
        out = out.json()
        plain_truth = exact[:K]
        result["search"] = {
            "p50": percentiles(times)[0],
            "p95": percentiles(times)[1],
            "plan": out["plan"],
            "recall": len({i["id"] for i in out["items"]} & set(plain_truth)) / K,
        }
        # the same search called in-process, without HTTP: what the service adds to the engine
        from vectrain.search.find import search as search_fn

        times, _ = timed(lambda: search_fn(store, name, vector=q, k=K), reps)
        result["search_in_process"] = {"p50": percentiles(times)[0], "p95": percentiles(times)[1]}
        times, out = timed(lambda: search({"vector": q, "k": K, "exclude_ids": labeled}), reps)
        out = out.json()
        got = [i["id"] for i in out["items"]]
        result["search_excluded"] = {
            "p50": percentiles(times)[0],
            "p95": percentiles(times)[1],
            "plan": out["plan"],
            "rows": len(got),
            "recall": len(set(got) & set(truth)) / K,
            "labeled_returned": len(set(got) & labeled_set),
        }

        # pair by pair against the bare query: no exclusion, then the bare NOT IN with the service's candidate list
        from vectrain.storage.vectorsql.filters import DEEP_CANDIDATES

        ta, tb = paired(lambda: search({"vector": q, "k": K}), lambda: bare(top_sql, {}, {}), args.pairs)
        result["paired_search"] = paired_summary(ta, tb)
        varied = next(synthetic_clip(args.pairs, seed=33))[1]
        ta, tb = paired_varied(
            lambda v: search({"vector": v.tolist(), "k": K}),
            lambda v: store.client.query(top_sql, parameters={"q": Floats(v)}).result_rows,
            varied,
        )
        result["paired_search_varied"] = paired_summary(ta, tb)
        sql_, settings_ = variant_queries[f"ef {DEEP_CANDIDATES}x fetch"]
        ta, tb = paired(
            lambda: search({"vector": q, "k": K, "exclude_ids": labeled}),
            lambda: bare(sql_, {"sid": "b"}, settings_),
            args.pairs,
        )
        result["paired_search_excluded"] = {**paired_summary(ta, tb), "candidates": DEEP_CANDIDATES}

        recalls = []
        for v, excluded, want in recall_set:
            got = [i["id"] for i in search({"vector": v.tolist(), "k": K, "exclude_ids": excluded}).json()["items"]]
            assert len(got) == K and not set(got) & set(excluded), "exact k or exclusion broken"
            recalls.append(len(set(got) & want) / K)
        result["search_excluded_recall"] = {
            "queries": len(recalls),
            "mean": float(np.mean(recalls)),
            "min": float(np.min(recalls)),
        }
        # `top` recall as a mean: one session per recall query, its 1,000 nearest labeled
        recalls = []
        for n, (v, excluded, want) in enumerate(recall_set):
            r = api.post(
                "/sessions", json={"dataset": name, "name": f"scale_{int(time.time())}_r{n}", "vector": v.tolist()}
            )
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
            for start in range(0, LABELED, 500):
                r = api.post(
                    f"/sessions/{sid}/labels",
                    json={"labels": [{"item_id": i, "score": -1.0} for i in excluded[start : start + 500]]},
                )
                assert r.status_code == 200, r.text
            got = [i["id"] for i in api.post(f"/sessions/{sid}/next", json={"k": K, "strategy": "top"}).json()["items"]]
            assert len(got) == K and not set(got) & set(excluded), "exact k or no labeled rows broken"
            recalls.append(len(set(got) & want) / K)
        result["next"]["top"].update(
            mean_recall=float(np.mean(recalls)), min_recall=float(np.min(recalls)), recall_queries=len(recalls)
        )

        result["rss_after_queries_mb"] = rss_mb()
        if args.no_batch:
            result["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            store.close()
            return result
        started = time.perf_counter()
        r = api.post(f"/sessions/{s['id']}/apply")
        result["apply_s"] = time.perf_counter() - started
        assert r.status_code == 200, r.text
        result["rss_after_queries_mb"] = rss_mb()

        # zero-shot: every row against n labels, stored, next to numpy on the same vectors in memory
        rng = np.random.default_rng(1)
        label_vectors = rng.normal(size=(args.labels, 512)).astype(np.float32)
        label_vectors /= np.linalg.norm(label_vectors, axis=1, keepdims=True)
        api.delete("/labelsets/scale_labels")
        api.post(
            "/labelsets",
            json={
                "name": "scale_labels",
                "labels": [f"l{i}" for i in range(args.labels)],
                "vectors": label_vectors.tolist(),
            },
        )
        from vectrain.classify.zeroshot import run_stored

        # each run starts once the merges of what the step before it wrote are done
        result["merges_waited_s"], result["zero_shot_counters"] = [], []
        for key in ("zero_shot_s", "zero_shot_warm_s"):  # the process's first run, then again
            result["merges_waited_s"].append(settle(store))
            before, started = process_counters(), time.perf_counter()
            run = run_stored(store, name, "scale_labels")
            result[key] = time.perf_counter() - started
            after = process_counters()
            result["zero_shot_counters"].append(
                {"disk_read_mb": (after[0] - before[0]) / 2**20, "minor_faults": after[1] - before[1]}
            )
        result["zero_shot_stored"] = run["stored"]
        zero_shot_run_at = run["run_at"]
        result["rss_after_zero_shot_mb"] = rss_mb()
    # numpy baseline: the same vectors, already in memory, multiplied and argmax'ed in blocks
    # the bare engine reading every id and vector out, no work done on them: chDB's own connection
    # to the same path, its fastest read here (uncompressed Arrow tables, block_rows(512) rows a query in
    # primary-key ranges, as the product reads; one 2 GB result measured slower)
    import chdb

    from vectrain.storage.itemvectors import read

    conn = chdb.connect(str(path.resolve()))  # the path the engine opened, symlinks resolved
    ids = conn.query(f"SELECT id FROM {table_name} ORDER BY id", "ArrowTable").column("id")
    read_rows = block_rows(512)
    bounds = [ids[i].as_py() for i in range(0, len(ids), read_rows)] + [None]
    for key in ("read_bare_s", "read_bare_warm_s"):
        settle(store)
        started = time.perf_counter()
        for lo, hi in zip(bounds, bounds[1:]):
            where = "id >= {lo:String}" + ("" if hi is None else " AND id < {hi:String}")
            raw = conn.query(
                f"SELECT id, vector FROM {table_name} WHERE {where} SETTINGS "
                "output_format_arrow_compression_method = 'none', preferred_block_size_bytes = "
                f"1073741824, max_block_size = {read_rows}",
                "ArrowTable",
                params={"lo": lo, **({"hi": hi} if hi is not None else {})},
            )
            del raw
        result[key] = time.perf_counter() - started
    conn.close()
    rows = read(store, Query.named("classify.all_vectors", db="scale", items=f"items_{name}"), 512)
    vectors = rows.vectors
    best = np.empty(len(vectors), dtype=np.int64)
    started = time.perf_counter()
    for start in range(0, len(vectors), 65_536):
        s_ = vectors[start : start + 65_536] @ label_vectors.T
        best[start : start + 65_536] = s_.argmax(axis=1)
    result["zero_shot_numpy_s"] = time.perf_counter() - started
    # every stored label checked against numpy's: a label that differs must be a tie within float
    # rounding (the two labels' similarities within 1e-5)
    stored = store.query_arrow(
        Query(
            "SELECT id, label FROM scale.zero_shot WHERE labelset = 'scale_labels' "
            "AND run_at = {t:DateTime64(3)} ORDER BY id",
            {"t": zero_shot_run_at},
        )
    )
    assert stored.column("id").to_pylist() == rows.ids, "zero-shot did not store every row once"
    stored_best = np.array([int(x[1:]) for x in stored.column("label").to_pylist()])
    differ = np.flatnonzero(stored_best != best)
    gaps = [
        abs(float(vectors[i] @ label_vectors[best[i]] - vectors[i] @ label_vectors[stored_best[i]])) for i in differ
    ]
    result["zero_shot_check"] = {"rows": len(best), "labels_differ": len(differ), "max_gap": max(gaps, default=0.0)}
    assert max(gaps, default=0.0) < 1e-5, f"zero-shot labels differ from numpy's: {result['zero_shot_check']}"
    del vectors
    result["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store.close()
    return result


def report(args, r: dict) -> str:
    rows = r["rows"]
    b = r["bare"]
    ex = b["excluded"]
    best_bare = min(
        (v for v in ex.values() if v["rows"] == K and v.get("mean_recall", v["recall"]) >= 0.97),
        key=lambda v: v["p50"],
        default=None,
    )
    lines = [
        f"## At {rows:,} rows, {r['quantization']} index",
        "",
        f"`python -m bench.scale --rows {rows} --quantization {r['quantization']}"
        f"{' --baseline-build' if 'bare_build_s' in r else ''}` ({r['machine']}). 512-d vectors clustered like CLIP; "
        f"{LABELED:,} labeled items, the {LABELED:,} nearest to the weights; k={K}; {r.get('repeats', args.repeats)} requests each."
        + (
            f" The 1-minute load average when the measuring began: {r['load_measured']:.1f}."
            if "load_measured" in r
            else ""
        ),
        "",
    ]
    if "insert_s" in r:
        build = f"index build {r['build_s']:.1f} s"
        if "bare_build_s" in r:
            build += (
                f" vs a bare `MATERIALIZE INDEX` of the same table {r['bare_build_s']:.1f} s "
                f"({r['build_s'] / r['bare_build_s']:.2f}x)"
            )
        when = f" (measured when the table was built, {r['built']}; this run reused it)" if "built" in r else ""
        lines += [
            f"Load: insert {r['insert_s']:.1f} s ({r['insert_rows_s']:,.0f} rows/s), {build}{when}; "
            f"index {r['index_bytes'] / 2**20:,.0f} MiB on disk.",
            "",
        ]
    rows_ = [["bare: HNSW top-10, no exclusion", f"{b['top10'][0]:.1f}", f"{b['top10'][1]:.1f}", "", ""]]
    if "top10_list_bound" in b:
        rows_.append(
            [
                "bare: the same, the vector bound as a Python list (clickhouse-connect formats each float)",
                f"{b['top10_list_bound'][0]:.1f}",
                f"{b['top10_list_bound'][1]:.1f}",
                "",
                "",
            ]
        )
    for label, v in ex.items():
        mean = f" (mean {v['mean_recall']:.3f})" if "mean_recall" in v else ""
        rows_.append(
            [
                f"bare: NOT IN the {LABELED:,} nearest, fetch x{(LABELED + K) // K}, {label}",
                f"{v['p50']:.1f}",
                f"{v['p95']:.1f}",
                f"{v['rows']}",
                f"{v['recall']:.2f}{mean}",
            ]
        )
    rows_.append(["bare: exact scan top-10", f"{b['exact_scan'][0]:.1f}", f"{b['exact_scan'][1]:.1f}", "", "1.00"])
    for strategy, v in r["next"].items():
        if "loop" in r:
            what = {"top": "top (round 0: the seeds' query, on the index)", "random": "random (round 0)"}[strategy]
        elif strategy in ("mixed", "boundary"):  # runs before the scored rounds (bench.loop_scale)
            what = f"{strategy} (superseded: the 200 index candidates nearest the weights, not the boundary)"
        else:
            what = strategy
        rows_.append(
            [
                f"vectrain: `next` {what}",
                f"{v['p50']:.1f}",
                f"{v['p95']:.1f}",
                "exact k" if not v["violations"] else f"{v['violations']} violations",
                (f"{v['recall']:.2f}" + (f" (mean {v['mean_recall']:.3f})" if "mean_recall" in v else ""))
                if "recall" in v
                else "",
            ]
        )
    se, sx = r["search"], r["search_excluded"]
    rows_.append(
        [
            f"vectrain: search, no exclusion ({se['plan']})",
            f"{se['p50']:.1f}",
            f"{se['p95']:.1f}",
            "",
            f"{se['recall']:.2f}",
        ]
    )
    if "http_floor" in r:
        rows_.append(
            [
                "HTTP alone: a search-shaped request to an endpoint doing no work",
                f"{r['http_floor'][0]:.1f}",
                f"{r['http_floor'][1]:.1f}",
                "",
                "",
            ]
        )
    if "search_in_process" in r:
        sp = r["search_in_process"]
        rows_.append(
            ["vectrain: the same search called in-process (no HTTP)", f"{sp['p50']:.1f}", f"{sp['p95']:.1f}", "", ""]
        )
    mean = f" (mean {r['search_excluded_recall']['mean']:.3f})" if "search_excluded_recall" in r else ""
    rows_.append(
        [
            f"vectrain: search, {LABELED:,} nearest excluded ({sx['plan']})",
            f"{sx['p50']:.1f}",
            f"{sx['p95']:.1f}",
            f"{sx['rows']} rows, {sx['labeled_returned']} excluded returned",
            f"{sx['recall']:.2f}{mean}",
        ]
    )
    lines.append(table(["query", "p50 ms", "p95 ms", "rows", "recall@10 (mean over the recall queries)"], rows_))
    lines.append("")
    ratios = [f"search without exclusions {se['p50'] / b['top10'][0]:.2f}x the bare HNSW query"]
    if "search_in_process" in r:
        ratios.append(f"in-process {r['search_in_process']['p50'] / b['top10'][0]:.2f}x")
    if "http_floor" in r:
        ratios.append(f"less the HTTP floor {(se['p50'] - r['http_floor'][0]) / b['top10'][0]:.2f}x")
    if best_bare:
        ratios.append(
            f"search with exclusions {sx['p50'] / best_bare['p50']:.2f}x the best bare query that returns "
            f"{K} rows at recall >= 0.97 (the mean over the recall queries, where measured)"
        )
    # Each loop above ran at its own moment; on this machine the same query's p50 moved by up to
    # a third between moments, so these ratios are context and the pairs below the comparison.
    lines.append(
        "Ratios of the loops above (p50; each loop ran at its own moment, so the pairs below are the "
        "like-for-like comparison): " + "; ".join(ratios) + "."
    )
    if "paired_search" in r:
        a, b_ = r["paired_search"], r["paired_search_excluded"]

        def thirds(v):
            return f" (in consecutive thirds: {', '.join(f'{x:.2f}x' for x in v['thirds'])})" if "thirds" in v else ""

        lines += [
            "",
            f"Pair by pair ({a.get('pairs', r.get('repeats', args.repeats))} pairs, each bare query right after the service "
            f"request it is compared with, the same query every pair; p50): search without exclusions {a['service']:.2f} ms against the "
            f"bare HNSW query {a['bare']:.2f} ms ({a['service'] / a['bare']:.2f}x{thirds(a)}); with the "
            f"{LABELED:,} nearest excluded {b_['service']:.1f} ms against the bare `NOT IN` with the "
            f"service's candidate list ({b_['candidates']}x the fetch) {b_['bare']:.1f} ms "
            f"({b_['service'] / b_['bare']:.2f}x{thirds(b_)}).",
        ]
        if "paired_search_varied" in r:
            v = r["paired_search_varied"]
            lines += [
                "",
                f"With a different query vector each pair and the order alternating ({v['pairs']} pairs; p50): "
                f"search without exclusions {v['service']:.2f} ms against the bare HNSW query "
                f"{v['bare']:.2f} ms ({v['service'] / v['bare']:.2f}x{thirds(v)}).",
            ]
    lines += loop_scale.report_lines(r, best_bare, rows)
    if "search_excluded_recall" in r:
        sr = r["search_excluded_recall"]
        lines += [
            "",
            f"Search recall@10 over {sr['queries']} queries, each with its own {LABELED:,} nearest excluded: "
            f"mean {sr['mean']:.3f}, min {sr['min']:.2f} (exact k and no excluded row on every one).",
        ]
    lines.append("")
    if "zero_shot_s" not in r:
        lines.append(
            f"Batch work not run (--no-batch). Memory (RSS of this one process, which is the service): "
            f"{r['rss_after_load_mb']:,.0f} MiB after the load, {r['rss_after_queries_mb']:,.0f} MiB after "
            f"the queries."
        )
        return "\n".join(lines)
    numpy_s = r["zero_shot_numpy_s"]
    line = (
        f"Batch work: zero-shot of {r['zero_shot_stored']:,} rows x {r.get('labels', args.labels)} labels, stored, against numpy "
        f"multiplying the same vectors in memory and taking each row's argmax ({numpy_s:.1f} s): "
        f"{r['zero_shot_s']:.1f} s the process's first time ({r['zero_shot_s'] / numpy_s:.1f}x)"
    )
    if "zero_shot_warm_s" in r:
        line += f", {r['zero_shot_warm_s']:.1f} s run again ({r['zero_shot_warm_s'] / numpy_s:.1f}x)"
    if "zero_shot_counters" in r:
        first, again = r["zero_shot_counters"]
        line += (
            f"; the two runs read {first['disk_read_mb']:,.0f} and {again['disk_read_mb']:,.0f} MiB from disk "
            f"and took {first['minor_faults']:,} and {again['minor_faults']:,} minor page faults (memory "
            f"first touched)"
        )
    if "read_bare_s" in r and "read_bare_warm_s" in r:
        line += (
            f". The bare engine only reading every id and vector out ({block_rows(512):,}-row uncompressed Arrow reads, "
            f"after zero-shot) took {r['read_bare_s']:.1f} s and {r['read_bare_warm_s']:.1f} s "
            f"({r['read_bare_warm_s'] / numpy_s:.1f}x numpy on its own)"
        )
    lines.append(
        line + f". Apply (score every row into predictions and publish the SQL function): {r['apply_s']:.2f} s."
    )
    if "zero_shot_check" in r:
        c = r["zero_shot_check"]
        agree = (
            f"all {c['rows']:,} agree"
            if not c["labels_differ"]
            else f"{c['labels_differ']} of {c['rows']:,} differ, each a tie within {c['max_gap']:.0e}"
        )
        lines += [
            "",
            f"Checked: the stored rows are every row once, and each stored label is numpy's argmax on the same "
            f"vectors ({agree}). Each zero-shot run started once the engine's merges of the "
            f"step before were done (waited " + ", ".join(f"{w:.1f}" for w in r["merges_waited_s"]) + " s).",
        ]
    lines.append("")
    lines.append(
        f"Memory (RSS of this one process, which is the service): {r['rss_after_load_mb']:,.0f} MiB after the "
        f"load, {r['rss_after_queries_mb']:,.0f} MiB after the queries, {r['rss_after_zero_shot_mb']:,.0f} MiB "
        f"after zero-shot; peak {r['rss_peak_mb']:,.0f} MiB (including the numpy baseline's copy of every "
        "vector)."
    )
    return "\n".join(lines)


def summary() -> None:
    results = [json.loads(p.read_text()) for p in sorted(PLOTS.glob("scale_*.json"))]
    results = sorted((r for r in results if r["rows"] >= 100_000), key=lambda r: (r["quantization"], r["rows"]))
    if not results:
        raise SystemExit("no bench/plots/scale_*.json yet: run bench.scale first")

    def fmt(r, *keys, spec=".1f"):
        value = r
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return "" if value is None else format(value, spec)

    rows = [
        [
            f"{r['rows']:,}",
            r["quantization"],
            fmt(r, "insert_s", spec=".0f"),
            fmt(r, "build_s", spec=".0f"),
            f"{r['index_bytes'] / 2**20:,.0f}",
            fmt(r, "next", "top", "p50"),
            fmt(r, "next", "top", "mean_recall", spec=".3f") or fmt(r, "next", "top", "recall", spec=".2f"),
            fmt(r, "paired_search", "service") or fmt(r, "search", "p50"),
            fmt(r, "search_excluded_recall", "mean", spec=".3f") or fmt(r, "search_excluded", "recall", spec=".2f"),
            fmt(r, "rss_after_queries_mb", spec=",.0f"),
        ]
        for r in results
    ]
    text = table(
        [
            "rows",
            "index",
            "insert s",
            "build s",
            "index MiB",
            "next top p50 ms",
            "top recall@10 (mean where measured)",
            "search p50 ms (of the pairs where measured)",
            "excluded recall@10 (mean)",
            "RSS MiB",
        ],
        rows,
    )
    text += "\n" + projection([r for r in results if r["quantization"] == "bf16"])
    write_section(
        "scale_summary",
        f"## f32 against bf16, and toward 10M rows\n\n"
        f"`python -m bench.scale --summary`, from the runs above.\n\n{text}\n",
    )
    print(text)


def projection(runs: list[dict], target: int = 10_000_000, ram_gib: float = 24.0) -> str:
    """Fit each measure against rows over the bf16 runs that have it and project to `target`
    rows: insert, index size and RSS linearly (least squares), build time and latency as power
    laws (HNSW builds grow faster than linearly)."""

    def points(key):
        pts = [(r["rows"], r[key]) for r in runs if r.get(key) is not None]
        return np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)

    def linear(key):
        n, v = points(key)
        slope, intercept = np.polyfit(n, v, 1)
        return slope * target + intercept, slope, intercept, n

    def power(key):
        n, v = points(key)
        b, a = np.polyfit(np.log(n), np.log(v), 1)
        return float(np.exp(a) * target**b), b, n

    # Build time depends on the HNSW build parameter: fit it over the runs that share the most
    # common one (tables built before it was recorded used 128).
    efc = [r.get("ef_construction", 128) for r in runs]
    common = max(set(efc), key=lambda e: (efc.count(e), e))
    for r, e in zip(runs, efc):  # flatten what the fits read
        r["build_fit_s"] = r.get("build_s") if e == common else None
        r["index_mib"] = r["index_bytes"] / 2**20
        r["top_p50"] = r.get("next", {}).get("top", {}).get("p50")
        r["search_p50"] = r.get("paired_search", {}).get("service") or r.get("search", {}).get("p50")
    if len([r for r in runs if r.get("build_fit_s")]) < 2:
        return "\nProjection to 10M: needs bf16 runs at two sizes at least.\n"
    sizes = lambda n: ", ".join(f"{int(x):,}" for x in n)
    insert, _, _, n_insert = linear("insert_s")
    build, build_exp, n_build = power("build_fit_s")
    index_mib, _, _, _ = linear("index_mib")
    lines = [
        f"\nProjected to {target:,} rows with bf16 (a projection, not a measurement): insert {insert:,.0f} s and "
        f"index {index_mib:,.0f} MiB (linear over {sizes(n_insert)} rows); index build {build:,.0f} s "
        f"({build / 60:.0f} min; rows^{build_exp:.2f} over {sizes(n_build)} rows, HNSW ef_construction {common})."
    ]
    if len([r for r in runs if r.get("rss_after_queries_mb")]) >= 2:
        rss, slope, intercept, n_rss = linear("rss_after_queries_mb")
        top, top_exp, _ = power("top_p50")
        search, search_exp, _ = power("search_p50")
        # rounded to 0.1M: a fit over three runs is not good to the row
        fits = round((ram_gib * 1024 * 0.8 - intercept) / slope, -5) if slope > 0 else 0
        lines.append(
            f"Over {sizes(n_rss)} rows: service RSS after the queries {rss / 1024:,.1f} GiB at {target:,} "
            f"rows ({slope * 1e6 / 1024:.2f} GiB per million rows, so this {ram_gib:.0f} GiB machine holds "
            f"about {fits / 1e6:.1f}M rows with 20% of its memory to spare); `next` top p50 {top:.0f} ms "
            f"(rows^{top_exp:.2f}); search p50 {search:.0f} ms (rows^{search_exp:.2f})."
            + (
                " A negative exponent means latency did not grow with rows over these runs (their CPU "
                "contention differed: see each run's section), so read it as flat, not falling."
                if min(top_exp, search_exp) < 0
                else ""
            )
        )
    return " ".join(lines) + "\n"


if __name__ == "__main__":
    main()
