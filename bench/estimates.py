"""Audit estimates: do the session's 95% intervals cover the truth, how narrow are they, and what
does the audit cost? Through the service code on the real engine.

    .venv/bin/python -m bench.estimates [--seeds 5 6 7 8 9] [--classes ...] [--reps 2] [--rounds 15]

Real CLIP ViT-B/32 embeddings (../shared/data): 2,000 Food-101 images in 10 classes. Per split
seed, 20% of each class is held out and never enters the database; the other 80% (1,600 items,
160 a class) are loaded into a temp chDB. Per class, sessions start from the class's ImageNet
prompt embedding where it has one (pizza, hamburger, guacamole, ice_cream), else from two random
positive examples, and run 10 oracle labels a round (`mixed`), one `auto` training round after
each:

    new       3, 3, 4 of every 10 labels are audit draws by the service's design (favouring items
              the predictor is unsure of); after each round the background estimate is awaited
              and GET /sessions/{id}'s estimate read; `--reps` independent sessions
    today     the same loop with uniform draws (VECTRAIN_AUDIT_FLOOR=1), measured by the estimator
              the service used before (bench/old_estimator.py, computed here) and by the new one
    baseline  10 `mixed` labels a round, no audit, 10 rounds: the audit's cost at 100 labels

Coverage: in how many (session, round) cells with an estimate the 95% F1 interval holds the
round's classifier's F1 over the whole loaded dataset (its estimand, from the oracle). The
estimator's constants (nu0, the design's floor, the stop rule's exponent) were tuned in a numpy
simulation of these sessions on split seeds 0-4; the figures reported are of other seeds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid

import numpy as np

from bench.label_efficiency import f1, load_data, split
from bench.report import ROOT, write_section

# The classes that start from their ImageNet prompt (the others from two examples): the four whose
# prompt names the same dish, as when the estimator's constants were chosen.
PROMPTED = ("pizza", "hamburger", "guacamole", "ice_cream")
BATCH = 10
SCHEDULE = (3, 3, 4)
COST_AT = 100
OUT = ROOT / "bench" / "out"


def truth_of(X, positive, W, b, t) -> dict:
    pred = X @ W + b > t
    tp = int(np.sum(pred & positive))
    return {
        "f1": f1(pred, positive),
        "precision": tp / pred.sum() if pred.sum() else None,
        "recall": tp / positive.sum(),
        "positives": int(positive.sum()),
    }


def load_split(store, X, y, seed):
    """The split's train part loaded as dataset food_s<seed> through the real writer; returns the
    train and test masks, the dataset's name and its ids."""
    from vectrain.loaders.writer import DatasetWriter

    tr, te = split(y, seed)
    dataset = f"food_s{seed}"
    ids = [f"f{i:04d}" for i in np.flatnonzero(tr)]
    writer = DatasetWriter(store, dataset, 512, "features", total=len(ids), progress=False)
    writer.write(ids=ids, vectors=X[tr], labels=list(y[tr]))
    writer.finish()
    return tr, te, dataset, ids


def run(store, ctx, start, rounds, arm, old=False, schedule=SCHEDULE) -> list[dict]:
    """One session; per round: labels, audit labels, the estimate(s), and the truths."""
    from bench import old_estimator
    from vectrain.labeling import estimates, labels, publish, sessions

    kind, value = start
    s = sessions.create_session(store, ctx["dataset"], f"est_{uuid.uuid4().hex[:10]}", **{kind: value})
    positive = ctx["positive"]
    out, audited = [], 0
    for n in range(1, rounds + 1):
        audit = schedule[(n - 1) % len(schedule)] if arm != "baseline" else 0
        batch = sessions.next_batch(store, s["id"], BATCH, "mixed", audit=audit)
        labels.add_labels(
            store,
            s["id"],
            [
                {"item_id": i["id"], "score": 1.0 if ctx["truth"][i["id"]] else -1.0, "source": i["source"]}
                for i in batch["items"]
            ],
        )
        audited += batch["audit"]
        trained = sessions.train_round(store, s["id"])
        started = time.perf_counter()
        estimates.settle()
        waited = time.perf_counter() - started
        w = publish.export_weights(store, s["id"])
        W, b, t = np.asarray(w["weights"], np.float64), w["bias"], w["threshold"]
        row = {
            "round": trained["round"],
            "labels": n * BATCH,
            "audited": audited,
            "heldout_f1": f1(ctx["Xte"] @ W + b > t, ctx["positive_te"]),
            "truth": truth_of(ctx["X"], positive, W, b, t),
            "background_seconds": waited,
        }
        if arm != "baseline":
            est = sessions.get_session(store, s["id"])["estimate"]
            row["estimate"] = est if est is None or est["round"] == trained["round"] else None
        if old and audited >= store.settings.estimate_min_audit:
            prior = np.asarray(sessions.session_row(store, s["id"])["init_weights"], np.float32)
            lab, items, pp = old_estimator.inputs(store, s["id"], ctx["X"], ctx["ids"], W, b, t, "auto", prior)
            try:
                row["old"] = old_estimator.estimate(lab, items, pp)
            except ValueError as exc:
                row["old"] = {"error": str(exc)}
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[5, 6, 7, 8, 9])
    ap.add_argument("--classes", nargs="+", default=None, help="default: all ten")
    ap.add_argument("--reps", type=int, default=2, help="independent `new` sessions per class and seed")
    ap.add_argument("--rounds", type=int, default=15, help="rounds of the audited loops (10 labels each)")
    ap.add_argument("--path", default=None, help="chDB data path (default: a new temp dir, removed after)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    ap.add_argument(
        "--only-new", action="store_true", help="tuning: the service's sessions only (no today, no baseline)"
    )
    ap.add_argument("--floor", type=float, default=None, help="VECTRAIN_AUDIT_FLOOR for the service's sessions")
    ap.add_argument("--no-today", action="store_true", help="skip the uniform-draws sessions (today's estimator)")
    ap.add_argument("--schedule", type=int, nargs="+", default=list(SCHEDULE), help="audit draws per batch, cycled")
    ap.add_argument("--out", default="estimates.json", help="file name of the runs under bench/out/")
    ap.add_argument("--plot", default="estimates.png", help="file name of the plot under bench/plots/")
    ap.add_argument(
        "--render",
        nargs="+",
        metavar="JSON",
        help="write the section from stored runs (bench/out/): the first is the main run, the others other shares",
    )
    args = ap.parse_args()
    if args.render:
        return render(args.render, args.no_write)

    from bench.estimates_report import report
    from vectrain.core.config import Settings
    from vectrain.storage.store import Store

    X, y, P = load_data()
    classes = args.classes or sorted(set(y.tolist()))
    path = args.path or tempfile.mkdtemp(prefix="vectrain_est_")
    store = Store(
        Settings(database_url=f"chdb://{path}", database=f"est_{uuid.uuid4().hex[:8]}"), owner="bench.estimates"
    )
    store.migrate()
    if args.floor is not None:
        store.settings = store.settings.model_copy(update={"audit_floor": args.floor})
    active = store.settings
    started = time.perf_counter()
    runs = []
    try:
        for seed in args.seeds:
            tr, te, dataset, ids = load_split(store, X, y, seed)
            for cls in classes:
                positive = y[tr] == cls
                ctx = {
                    "dataset": dataset,
                    "ids": ids,
                    "truth": dict(zip(ids, positive.tolist())),
                    "positive": positive,
                    "X": X[tr].astype(np.float64),
                    "Xte": X[te].astype(np.float64),
                    "positive_te": y[te] == cls,
                }
                if cls in PROMPTED:
                    start = ("vector", P[cls].tolist())
                else:
                    rng = np.random.default_rng(1000 * seed + classes.index(cls))
                    start = ("positive_ids", [ids[i] for i in rng.choice(np.flatnonzero(positive), 2, replace=False)])
                record = {"class": cls, "seed": seed, "start": "prompt" if cls in PROMPTED else "2 examples"}
                record["new"] = [
                    run(store, ctx, start, args.rounds, "new", schedule=args.schedule) for _ in range(args.reps)
                ]
                if args.only_new:
                    runs.append(record)
                    continue
                if not args.no_today:
                    store.settings = active.model_copy(update={"audit_floor": 1.0})
                    try:
                        record["today"] = run(store, ctx, start, args.rounds, "today", old=True, schedule=args.schedule)
                    finally:
                        store.settings = active
                record["baseline"] = run(store, ctx, start, COST_AT // BATCH, "baseline")
                runs.append(record)
                last = record["new"][0][-1]
                e = last["estimate"] or {}
                print(
                    f"seed {seed} {cls:12s} @{last['labels']}: true F1 {last['truth']['f1']:.3f}, estimate "
                    f"{e.get('f1', float('nan')):.3f} [{e.get('f1_low', float('nan')):.3f}, "
                    f"{e.get('f1_high', float('nan')):.3f}]; held-out F1 @{COST_AT} audit "
                    f"{record['new'][0][min(COST_AT // BATCH, args.rounds) - 1]['heldout_f1']:.3f} baseline "
                    f"{record['baseline'][-1]['heldout_f1']:.3f} ({time.perf_counter() - started:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        store.close()
        if args.path is None:
            shutil.rmtree(path, ignore_errors=True)
    seconds = time.perf_counter() - started
    OUT.mkdir(parents=True, exist_ok=True)  # every round's estimates and truths (not committed: bench/out/)
    stored = {"args": vars(args), "runs": runs, "seconds": seconds}
    (OUT / args.out).write_text(json.dumps(stored, indent=1, default=float))
    if args.only_new:
        return print(f"the service's sessions only: runs in {OUT / args.out}")
    text = report(runs, args, seconds)
    print(text)
    if not args.no_write:
        write_section("estimates", text)


def render(names: list[str], no_write: bool) -> None:
    from bench.estimates_report import report

    stored = [json.loads((OUT / name).read_text()) for name in names]
    for name, s in zip(names, stored):
        defaults = {"schedule": list(SCHEDULE), "no_today": False, "plot": "estimates.png", "floor": None}
        s["args"] = argparse.Namespace(**{**defaults, **s["args"], "out": name, "plot": "estimates.png"})
    main_run, others = stored[0], [(s["args"], s["runs"]) for s in stored[1:]]
    text = report(main_run["runs"], main_run["args"], main_run.get("seconds", 0), others, names)
    print(text)
    if not no_write:
        write_section("estimates", text)


if __name__ == "__main__":
    main()
