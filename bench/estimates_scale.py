"""The estimate's per-round work at scale: the background step (predictor fit, every row scored in
Arrow blocks and stored, the estimate) and the weighted audit draw, on synthetic CLIP-like rows.

    .venv/bin/python -m bench.estimates_scale [--rows 200000] [--labels 300] [--repeats 5]

A session starts from a cluster center with audit share 0.3 and is labeled `--labels` items by an
oracle (positive: cosine to that center above its 97th percentile) in batches of 100, a training
round after each. Measured per round: train_round's answer (the person's wait, which the step no
longer adds to), the background step, and a next batch of 10 with 3 audit draws by the design
against the same batch with uniform draws (VECTRAIN_AUDIT_FLOOR=1) and against no audit at all.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

import numpy as np

from bench.data import centers, synthetic_clip
from bench.report import machine, table, write_section


def timed(fn, repeats):
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--labels", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    import os

    from vectrain.core.config import Settings
    from vectrain.labeling import estimates, labels, sessions
    from vectrain.loaders.writer import DatasetWriter
    from vectrain.storage.store import Store

    load = [os.getloadavg()[0]]
    path = tempfile.mkdtemp(prefix="vectrain_estscale_")
    store = Store(Settings(database_url=f"chdb://{path}", database="estscale"), owner="bench.estimates_scale")
    store.migrate()
    started = time.perf_counter()
    try:
        target = centers()[0]
        writer = DatasetWriter(store, "scale", 512, "synthetic", total=args.rows, progress=False)
        cosine = {}
        for ids, v in synthetic_clip(args.rows, seed=7):
            writer.write(ids=ids, vectors=v, normalized=True)
            cosine.update(zip(ids, (v @ target).tolist()))
        writer.finish(build_index=False)
        cut = np.percentile(list(cosine.values()), 97)
        s = sessions.create_session(store, "scale", "scale", vector=target.tolist(), audit_rate=0.3)
        rounds = []
        for _ in range(args.labels // 100):
            batch = sessions.next_batch(store, s["id"], 100, "mixed")
            labels.add_labels(
                store,
                s["id"],
                [{"item_id": i["id"], "score": 1.0 if cosine[i["id"]] > cut else -1.0} for i in batch["items"]],
            )
            t0 = time.perf_counter()
            trained = sessions.train_round(store, s["id"])
            t1 = time.perf_counter()
            estimates.settle()
            rounds.append({"round": trained["round"], "train": t1 - t0, "step": time.perf_counter() - t1})
        scored = store.client.query(
            "SELECT count() FROM audit_scores WHERE session_id = {s:String} AND round = {r:UInt32}",
            parameters={"s": s["id"], "r": rounds[-1]["round"]},
        ).result_rows[0][0]
        est = sessions.get_session(store, s["id"])["estimate"]

        def batch(audit, floor=None):
            def go():
                store.settings = store.settings.model_copy(update={"audit_floor": floor or 0.2})
                b = sessions.next_batch(store, s["id"], 10, "mixed", audit=audit)
                # label the draws so the next call draws anew (a pending draw is served, not drawn)
                drawn = [i for i in b["items"] if i["source"] == "audit"]
                if drawn:
                    labels.add_labels(
                        store,
                        s["id"],
                        [{"item_id": i["id"], "score": 1.0 if cosine[i["id"]] > cut else -1.0} for i in drawn],
                    )

            return go

        plain = timed(batch(0), args.repeats)
        active = timed(batch(3), args.repeats)
        uniform = timed(batch(3, floor=1.0), args.repeats)
    finally:
        store.close()
        shutil.rmtree(path, ignore_errors=True)
    load.append(os.getloadavg()[0])
    rows = [[r["round"], f"{r['train'] * 1000:.0f} ms", f"{r['step']:.2f} s"] for r in rounds]
    text = (
        "## The estimate's work at scale (`bench/estimates_scale.py`)\n\n"
        f"{args.rows:,} synthetic CLIP-like rows (512-d, no index), {machine()}; a session labeled {args.labels} "
        f"items in rounds of 100 (audit share 0.3), then next batches of 10. {time.perf_counter() - started:.0f} s "
        f"in all, on a shared machine (load average {load[0]:.1f} at the start, {load[1]:.1f} at the end: the "
        "times are noisy, the background step's most).\n\n"
        + table(["round", "train_round answers in", "background step (fit, score and store every row, estimate)"], rows)
        + "\n\n"
        + table(
            [
                f"next batch of 10 (median of {args.repeats}; the audited ones include labeling their draws)",
                "time",
                "vs uniform draws (the design before)",
            ],
            [
                ["no audit", f"{plain * 1000:.0f} ms", ""],
                ["3 audit draws, uniform (VECTRAIN_AUDIT_FLOOR=1)", f"{uniform * 1000:.0f} ms", "1.00x"],
                ["3 audit draws by the design", f"{active * 1000:.0f} ms", f"{active / uniform:.2f}x"],
            ],
        )  # fmt: skip
        + f"\n\nChecked: the last round's scores cover {scored:,} of {args.rows:,} rows; its estimate: F1 "
        f"{est['f1']:.3f} [{est['f1_low']:.3f}, {est['f1_high']:.3f}] from {est['audited']} audit labels.\n\n"
        f"Command: `.venv/bin/python -m bench.estimates_scale --rows {args.rows} --labels {args.labels} "
        f"--repeats {args.repeats}`"
        if est
        else ""
    )
    print(text)
    if not args.no_write and text:
        write_section("estimates_scale", text)


if __name__ == "__main__":
    main()
