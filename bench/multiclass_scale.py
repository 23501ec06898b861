"""Multi-class sessions at scale: scoring every row after a round, training, and next-batch latency
against binary next batches on the same table, in the same process.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.multiclass_scale --rows 1000000

Data: vectors clustered like CLIP ViT-B/32 embeddings (bench.data.centers: noisy copies of 3,000
real CLIP vectors), loaded through the real DatasetWriter (with its HNSW index) into a chDB path
kept between runs. 100 classes: a row's class is its center's index // 30. A session with the 100
classes starts from 2 examples per class, then takes 1,000 labels in rounds of 100 (oracle labels,
default strategy) with a training round after each; each round's scoring (every row, in the
background) and training are timed. Then POST /sessions/{id}/next (k=10) for each strategy, through
the real FastAPI app (TestClient, so HTTP, JSON and every SQL round trip count), against a binary
session on the same table with the same 1,000 items labeled (class 0 against the rest).
Semantics beside latency: every batch holds k distinct unlabeled items, margin's come in
ascending margin, top's classes are the classes with the fewest labels.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid

import numpy as np

from bench.data import centers
from bench.report import machine, table, write_section

CLASSES = 100
PER_CLASS_CENTERS = 30


def rows_of(n: int, dim: int = 512, noise: float = 0.5, seed: int = 0, chunk: int = 100_000):
    """(ids, vectors, class) chunks: bench.data.synthetic_clip's vectors, with each row's class."""
    rng = np.random.default_rng(seed)
    c = centers(dim, seed)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        which = rng.integers(0, len(c), size=m)
        v = c[which] + (noise / np.sqrt(dim)) * rng.normal(size=(m, dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        yield [f"s{start + i:07d}" for i in range(m)], v.astype(np.float32), (which // PER_CLASS_CENTERS) % CLASSES


def build(store, name: str, n: int) -> None:
    from vectrain.loaders.writer import DatasetWriter

    if store.table_exists(f"items_{name}") and store.registry.count_rows(name) >= n:
        print(f"{name}: {n} rows already loaded", file=sys.stderr)
        return
    writer = DatasetWriter(store, name, 512, "features", total=n, progress=True)
    for ids, vectors, cls in rows_of(n):
        writer.write(ids=ids, vectors=vectors, labels=[f"k{c:02d}" for c in cls], normalized=True)
    print(writer.finish().line(), file=sys.stderr)


def timed(fn, repeats: int) -> tuple[list[float], object]:
    out, last = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        last = fn()
        out.append(1000 * (time.perf_counter() - t))
    return out, last


def measure(store, name: str, n: int, labels_to: int, repeats: int) -> str:
    from fastapi.testclient import TestClient

    from vectrain.api.app import create_app
    from vectrain.labeling import labels as label_svc
    from vectrain.labeling import sessions
    from vectrain.labeling.multiclass import scoring
    from vectrain.storage.query import Query

    truth = dict(store.client.query(f"SELECT id, label FROM {store.database}.items_{name}").result_rows)
    classes = [f"k{c:02d}" for c in range(CLASSES)]
    by_class: dict[str, list[str]] = {}
    for i, c in sorted(truth.items()):
        if len(by_class.setdefault(c, [])) < 2:
            by_class[c].append(i)
    started = time.perf_counter()
    s = sessions.create_session(store, name, f"scale_{uuid.uuid4().hex[:8]}", classes=classes, examples=by_class)
    create_s = time.perf_counter() - started
    sid = s["id"]
    scoring.wait(store, sid)
    score_s, train_s = [], []

    def scored_seconds(round_no):
        return float(
            store.client.query(
                f"SELECT max(seconds) FROM {store.database}.class_scored WHERE session_id = '{sid}' AND round = {round_no}"
            ).result_rows[0][0]
        )

    score_s.append(scored_seconds(0))
    labeled = sum(len(x) for x in by_class.values())
    round_no = 0
    while labeled < labels_to:
        batch = sessions.next_batch(store, sid, 100)
        label_svc.add_labels(store, sid, [{"item_id": i["id"], "class": truth[i["id"]]} for i in batch["items"]])
        labeled += len(batch["items"])
        t = time.perf_counter()
        round_no = sessions.train_round(store, sid)["round"]
        train_s.append(time.perf_counter() - t)
        scoring.wait(store, sid)
        score_s.append(scored_seconds(round_no))
        print(
            f"round {round_no}: {labeled} labels, train {train_s[-1]:.2f} s, score {score_s[-1]:.2f} s", file=sys.stderr
        )
    # The binary baseline: the same items labeled, class k00 against the rest.
    got = label_svc.get_labels(store, sid)
    b = sessions.create_session(store, name, f"scale_b_{uuid.uuid4().hex[:8]}", positive_ids=by_class["k00"])
    label_svc.add_labels(
        store, b["id"], [{"item_id": x["item_id"], "score": 1.0 if x["class"] == "k00" else -1.0} for x in got]
    )
    sessions.train_round(store, b["id"])
    rows = []
    counts = sessions.get_session(store, sid)["labels"]["per_class"]
    fewest = set(sorted(classes, key=lambda c: (counts[c], classes.index(c)))[:10])  # top's round-robin order
    with TestClient(create_app(store.settings, store)) as api:
        results = {}
        for kind, session_id, strategies in (
            ("binary", b["id"], ("mixed", "top", "random")),
            ("multi-class", sid, ("balanced", "margin", "top", "random")),
        ):
            labeled_ids = {x["item_id"] for x in label_svc.get_labels(store, session_id)}
            for strategy in strategies:

                def call():
                    r = api.post(f"/sessions/{session_id}/next", json={"k": 10, "strategy": strategy})
                    assert r.status_code == 200, r.text
                    return r.json()

                call()  # warm: caches, the first read of a part
                ms, batch = timed(call, repeats)
                ids = [i["id"] for i in batch["items"]]
                ok = len(ids) == 10 == len(set(ids)) and not set(ids) & labeled_ids
                if strategy == "margin":
                    margins = [i["margin"] for i in batch["items"]]
                    ok = ok and margins == sorted(margins)
                if kind == "multi-class" and strategy == "top":
                    ok = ok and {i["class"] for i in batch["items"]} == fewest
                results[(kind, strategy)] = ms
                rows.append(
                    [kind, strategy, statistics.median(ms), float(np.percentile(ms, 95)), "yes" if ok else "NO"]
                )
    # The baseline of the scoring: zero-shot over the same table with 100 labels, in this process.
    from vectrain.classify import labelsets, zeroshot

    ls = f"scale_{uuid.uuid4().hex[:8]}"
    rnd = sessions.get_session(store, sid)["round"]
    from vectrain.labeling.publish import export_weights

    weights = np.asarray(export_weights(store, sid, rnd)["weights"], np.float32)
    labelsets.create(store, ls, classes, vectors=weights)
    # Interleaved pairs (the machine is shared: its load moves between minutes): a round's scoring
    # run here, then zero-shot.
    from vectrain.labeling.multiclass.model import ClassSession, get_round

    session = ClassSession.of(store.rows(Query.named("sessions.get", id=sid))[0])
    latest = get_round(store, session)
    pairs = []
    for _ in range(3):
        t = time.perf_counter()
        with store.apart() as own:
            scoring.score_round(own, session, latest)
        mid = time.perf_counter()
        zeroshot.run_stored(store, name, ls)
        pairs.append((mid - t, time.perf_counter() - mid))
    base = statistics.median(results[("binary", "mixed")])
    for row in rows:
        row.append(f"{row[2] / base:.2f}x")
    return (
        f"{n:,} rows x 512 dims, {CLASSES} classes, {machine()}. Create (200 example labels, round 0 trained): "
        f"{create_s:.1f} s. Scoring every row after a round, in the background (numpy over Arrow blocks into "
        f"class_scores): median {statistics.median(score_s):.1f} s over {len(score_s)} rounds (min {min(score_s):.1f}, "
        f"max {max(score_s):.1f}; the machine's other load moved them). Three interleaved pairs, a round's scoring "
        f"and zero-shot over the same table with 100 labels (`zeroshot.run_stored`): "
        + ", ".join(f"{a:.1f} s / {b:.1f} s" for a, b in pairs)
        + f"; the scoring is {statistics.median(a / b for a, b in pairs):.2f}x zero-shot's (median of the pairs). "
        f"Training a round: median {statistics.median(train_s):.2f} s "
        f"({len(train_s)} rounds, 300 to {labeled} labels, metrics by 3-fold cross-fitting).\n\n"
        f"POST /next, k=10, {labeled:,} labels excluded, {repeats} requests each (ms; ratio: p50 over binary mixed's):\n\n"
        + table(
            ["session", "strategy", "p50 ms", "p95 ms", "k distinct unlabeled, in order", "p50 / binary mixed"], rows
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--path", default="/tmp/vectrain_bench_mc", help="chDB data path (kept between runs)")
    ap.add_argument("--labels", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from vectrain.core.config import Settings
    from vectrain.storage.store import Store

    store = Store(Settings(database_url=f"chdb://{args.path}", database="bench_mc"), owner="bench.multiclass_scale")
    store.migrate()
    name = f"syn{args.rows}"
    try:
        build(store, name, args.rows)
        text = measure(store, name, args.rows, args.labels, args.repeats)
    finally:
        store.close()
    text += (
        "\n\nCommand: `OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.multiclass_scale "
        f"--rows {args.rows}`"
    )
    print(text)
    if not args.no_write:
        write_section("multiclass_scale", "### Multi-class sessions at scale (`bench/multiclass_scale.py`)\n\n" + text)


if __name__ == "__main__":
    main()
