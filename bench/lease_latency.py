"""What leases cost a next batch: p50/p95 of POST /sessions/{id}/next with leases on and off, in
the same run, as a ratio.

    .venv/bin/python -m bench.lease_latency                # 25k rows (built once, as bench.next_latency)
    .venv/bin/python -m bench.lease_latency --repeats 60 --strategies mixed top

Three sessions started from the same vector, each with the same 1,000 labels (the nearest to
the weights: 300 positive, the rest negative, as bench.loop_scale) and one `auto` round trained
and scored, so every strategy reads the session's scored round (vectrain.labeling.candidates),
are driven in lockstep: each repetition asks each session for a batch of k (timed), then labels
it (not timed), so the three always exclude as many labeled items:
- `off`: VECTRAIN_LEASE_SECONDS=0, callers without a name: the strategy's reads alone (the baseline);
- `named`: leases on, four named labelers taking turns: the strategy's batch skipping the live
  leases (kept by the process on chDB), then the grant inserted (one round trip more);
- `anonymous`: leases on, a caller without a name while leases are live: the batch skipping them.
In both leased sessions a fifth labeler holds one batch leased throughout (never labeled), so
every batch there has a live lease to skip. Semantics are checked beside the latency: k items each
time, every batch read from the trained round's scores, and with leases on never an item of that
held batch. The machine is shared: the load
average before and after is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from bench.data import synthetic_clip
from bench.next_latency import SIZES, build, open_store
from bench.report import machine, table, write_section

VARIANTS = ("off", "named", "anonymous")
LABELERS = ("ann", "ben", "cy", "dee")


def measure(store, name: str, labeled: int, repeats: int, k: int, strategy: str) -> dict[str, list[float]]:
    from fastapi.testclient import TestClient

    from vectrain.api.app import create_app
    from vectrain.labeling import scoring
    from vectrain.labeling.sessions import add_labels, create_session, train_round
    from vectrain.search.nearest import nearest

    center = next(synthetic_clip(1, seed=7))[1][0]
    near = [r["id"] for r in nearest(store, name, center, k=labeled, exact=True, columns=("id",)).items]
    sessions = {}
    for variant in VARIANTS:
        s = create_session(store, name, f"lease_{variant}_{strategy}_{int(time.time())}", vector=center.tolist())
        marks = [{"item_id": i, "score": 1.0 if n < 0.3 * labeled else -1.0} for n, i in enumerate(near)]
        for start in range(0, labeled, 500):
            add_labels(store, s["id"], marks[start : start + 500])
        trained = train_round(store, s["id"])
        deadline = time.monotonic() + 600
        while getattr(scoring.latest(store, s["id"]), "round", -1) < trained["round"]:  # until it is scored
            assert time.monotonic() < deadline, "the round was not scored in 10 minutes"
            time.sleep(0.1)
        sessions[variant] = s["id"]
    hold = {"X-Vectrain-Labeler": "hold"}  # takes one batch and never labels it: a lease the others skip
    times = {v: [] for v in VARIANTS}
    held: dict[str, set] = {}  # variant -> the batch "hold" keeps leased in its session
    with TestClient(create_app(store.settings, store)) as api:
        for variant in ("named", "anonymous"):
            r = api.post(f"/sessions/{sessions[variant]}/next", json={"k": k, "strategy": strategy}, headers=hold)
            held[variant] = {i["id"] for i in r.json()["items"]}
        for rep in range(repeats + 2):
            for variant in VARIANTS:
                store.settings.lease_seconds = 0.0 if variant == "off" else 600.0
                who = LABELERS[rep % len(LABELERS)] if variant == "named" else ""
                headers = {"X-Vectrain-Labeler": who} if who else {}
                sid = sessions[variant]
                t = time.perf_counter()
                r = api.post(f"/sessions/{sid}/next", json={"k": k, "strategy": strategy}, headers=headers)
                dt = (time.perf_counter() - t) * 1000
                assert r.status_code == 200, r.text
                got = [i["id"] for i in r.json()["items"]]
                assert len(got) == k, f"{variant}: {len(got)} of {k}"
                assert r.json()["scored_round"] == 1, r.json()["source"]
                assert not set(got) & held.get(variant, set()), "an item leased to another labeler came back"
                if rep >= 2:  # the first calls warm caches
                    times[variant].append(dt)
                r = api.post(
                    f"/sessions/{sid}/labels",
                    json={"labels": [{"item_id": i, "score": -1.0} for i in got]},
                    headers=headers,
                )
                assert r.status_code == 200, r.text
    store.settings.lease_seconds = 600.0
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", default="/tmp/vectrain_bench_next", help="chDB data path (kept between runs)")
    ap.add_argument("--size", default="syn25k", choices=list(SIZES))
    ap.add_argument("--repeats", type=int, default=60)
    ap.add_argument("--labeled", type=int, default=1000)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--strategies", nargs="+", default=["mixed", "top"])
    args = ap.parse_args()
    store = open_store(args.path)
    build(store, args.size, SIZES[args.size])
    load_before = os.getloadavg()[0]
    rows = []
    for strategy in args.strategies:
        times = measure(store, args.size, args.labeled, args.repeats, args.k, strategy)
        base = float(np.percentile(times["off"], 50))
        for variant in VARIANTS:
            p50, p95 = (float(np.percentile(times[variant], q)) for q in (50, 95))
            # each repetition times the three back to back: the ratio within one is paired
            paired = float(np.median(np.asarray(times[variant]) / np.asarray(times["off"])))
            rows.append([f"{store.registry.count_rows(args.size):,}", strategy, variant, p50, p95, p50 / base, paired])
            print(rows[-1], file=sys.stderr)
    load_after = os.getloadavg()[0]
    text = (
        f"`POST /sessions/{{id}}/next` with leases off and on, through the FastAPI app (TestClient) on embedded "
        f"chDB, {machine()}, load average {load_before:.1f} before / {load_after:.1f} after (the machine is "
        f"shared). Synthetic CLIP-like 512-d vectors; {args.labeled} labels (the nearest to the weights, 30% "
        f"positive) and one `auto` round trained and scored, so every batch reads the scored round; k={args.k}, {args.repeats} requests per variant, the three sessions driven in lockstep "
        "(each batch labeled after it is timed; in the leased sessions a fifth labeler holds one batch "
        "leased throughout). `off`: "
        "VECTRAIN_LEASE_SECONDS=0 (the strategy's reads alone); `named`: four named labelers taking turns (the "
        "batch skipping the live leases, which the process keeps on chDB, then the grant inserted); `anonymous`: "
        "a caller without a name while leases are live (the batch skipping them). Every answer held k items read "
        "from the trained round's scores, and none with leases on held an item "
        "of the batch leased to the fifth labeler.\n\n"
        + table(["rows", "strategy", "variant", "p50 ms", "p95 ms", "p50 / off", "median paired ratio"], rows)
        + f"\n\nCommand: `.venv/bin/python -m bench.lease_latency --size {args.size} --repeats {args.repeats} "
        f"--labeled {args.labeled} -k {args.k} --strategies {' '.join(args.strategies)}`"
    )
    write_section("lease_latency", text)
    print(text)


if __name__ == "__main__":
    main()
