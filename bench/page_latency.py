"""Enter -> the next batch on screen, in a real headless Chromium against `vectrain serve`, at
25k rows: the first round after a restart of the service, and the warm rounds after it.

    .venv/bin/python -m bench.page_latency                  # build once, then measure
    .venv/bin/python -m bench.page_latency --restarts 5 --rounds 6

Data: 25,000 512-d vectors in 20 clusters around CLIP-like centers (bench.data.centers), each
with a 32x32 PNG thumbnail, loaded through the real writer into a chDB path of their own. One
session per restart is created beforehand by a service that is then stopped, so every restart
serves a session it has never touched. Each restart: `vectrain serve` starts (a new process),
the page opens the session's Label view, and the person (the browser, as fast as it can) labels
each batch from the cluster labels with the keyboard and presses Enter; the page measures
Enter -> the next batch with its thumbnails on screen itself (window.vectrain.timings: the
labels, train and next requests and the thumbnails). The baseline, in the same run: the same
restarts with the start-up warm-up off (VECTRAIN_WARM_UP=false).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np

from bench.data import centers
from bench.report import PLOTS, machine, table, write_section
from bench.server import start_server

ROWS, DIM, CLUSTERS, TARGET = 25_000, 512, 20, "c0"
NAME = "page25k"


def build(path: Path) -> None:
    from PIL import Image

    from vectrain.core.config import Settings
    from vectrain.embed.images import make_thumbnail
    from vectrain.loaders.writer import DatasetWriter
    from vectrain.storage.store import Store

    store = Store(Settings(database_url=f"chdb://{path}"), owner="bench.page_latency")
    store.migrate()
    try:
        if store.table_exists(f"items_{NAME}") and store.registry.count_rows(NAME) >= ROWS:
            return
        rng = np.random.default_rng(0)
        c = centers(DIM)[:CLUSTERS]
        cluster = rng.integers(0, CLUSTERS, size=ROWS)
        vectors = c[cluster] + (0.5 / np.sqrt(DIM)) * rng.normal(size=(ROWS, DIM)).astype(np.float32)
        colors = rng.integers(0, 256, size=(CLUSTERS, 3))
        writer = DatasetWriter(store, NAME, DIM, "features", total=ROWS, progress=True)
        for start in range(0, ROWS, 5000):
            part = range(start, min(ROWS, start + 5000))
            thumbs = []
            for i in part:
                pixels = np.clip(colors[cluster[i]] + rng.normal(0, 40, size=(32, 32, 3)), 0, 255).astype(np.uint8)
                thumbs.append(make_thumbnail(Image.fromarray(pixels), 256))
            writer.write(
                ids=[f"page/{i:05d}" for i in part],
                vectors=vectors[start : start + len(part)],
                labels=[f"c{cluster[i]}" for i in part],
                thumbnails=thumbs,
            )
        print(writer.finish().line(), file=sys.stderr)
    finally:
        store.close()


def truth(url: str) -> dict[str, str]:
    out, offset = {}, 0
    while True:
        page = httpx.post(f"{url}/datasets/{NAME}/browse", json={"offset": offset, "limit": 1000}, timeout=60).json()
        out.update({i["id"]: i["label"] for i in page["items"]})
        offset += len(page["items"])
        if offset >= page["total"]:
            return out


def make_sessions(path: Path, n: int) -> tuple[list[str], dict[str, str]]:
    proc, url = start_server(path)
    try:
        labels = truth(url)
        positives = [i for i, c in sorted(labels.items()) if c == TARGET][:2]
        ids = []
        for _ in range(n):
            body = {"dataset": NAME, "name": f"page_{os.urandom(4).hex()}", "positive_ids": positives}
            r = httpx.post(f"{url}/sessions", json=body, timeout=60)
            r.raise_for_status()
            ids.append(r.json()["id"])
        return ids, labels
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def run_restart(path: Path, session_id: str, labels: dict[str, str], rounds: int, warm: bool) -> list[dict]:
    """One restart of the service: `rounds` Enters in the page; the page's timings of each."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    from tests import browser
    from tests.web.pages import thumbs_settled, tile_ids, tiles, wait

    proc, url = start_server(path, env={"VECTRAIN_WARM_UP": "true" if warm else "false"})
    profile = browser.fresh_profile()
    d = browser.chrome(profile)
    browser.name_labeler(d, "bench")  # the page asks a labeler's name once; a person answers it before timing
    try:
        d.get(f"{url}/#d={NAME}&s={session_id}&t=label")
        wait(d, lambda d: len(tile_ids(d, "label-grid")) == 10 and thumbs_settled(d, "label-grid"), 120, "batch")
        for r in range(rounds):
            ids = tile_ids(d, "label-grid")
            tiles(d, "label-grid")[0].click()
            pressed = ["1" if labels[i] == TARGET else "0" for i in ids]
            ActionChains(d).send_keys(Keys.ESCAPE, *pressed, Keys.ENTER).perform()
            wait(d, lambda d: len(d.execute_script("return window.vectrain.timings")) == r + 1, 120, f"round {r + 1}")
            wait(d, lambda d: tile_ids(d, "label-grid") != ids, 120, "the next batch")
        return d.execute_script("return window.vectrain.timings")
    finally:
        d.quit()
        browser.remove(profile)
        proc.terminate()
        proc.wait(timeout=60)


def summary(runs: list[list[dict]]) -> dict:
    first = [run[0] for run in runs]
    warm = [t for run in runs for t in run[1:]]
    steps = ("labels", "train", "next", "thumbnails")
    return {
        "first": [t["ms"] for t in first],
        "first_steps": {s: round(statistics.median(t[s] for t in first)) for s in steps},
        "warm": [t["ms"] for t in warm],
        "warm_steps": {s: round(statistics.median(t[s] for t in warm)) for s in steps},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", default=os.path.join(tempfile.gettempdir(), "vectrain_bench_page"))
    ap.add_argument("--restarts", type=int, default=3, help="service restarts, with and without the warm-up each")
    ap.add_argument("--rounds", type=int, default=6, help="Enters per restart (the first is the cold one)")
    ap.add_argument("--section", default="page_latency")
    args = ap.parse_args()
    path = Path(args.path)
    build(path)
    sessions, labels = make_sessions(path, 2 * args.restarts)
    runs = {True: [], False: []}
    for n in range(args.restarts):  # alternate, so a busy spell of the machine hits both
        for warm in (True, False):
            runs[warm].append(run_restart(path, sessions.pop(), labels, args.rounds, warm))
            print(
                f"restart {n + 1}, warm-up {'on' if warm else 'off'}: {[t['ms'] for t in runs[warm][-1]]} ms",
                file=sys.stderr,
            )
    on, off = summary(runs[True]), summary(runs[False])

    def med(values):
        return round(statistics.median(values))

    rows = [
        ["first round after a restart", "on", med(on["first"]), max(on["first"]), *on["first_steps"].values()],
        ["first round after a restart", "off", med(off["first"]), max(off["first"]), *off["first_steps"].values()],
        ["warm rounds", "on", med(on["warm"]), max(on["warm"]), *on["warm_steps"].values()],
        ["warm rounds", "off", med(off["warm"]), max(off["warm"]), *off["warm_steps"].values()],
    ]
    load = os.getloadavg()[0]
    (PLOTS / "page_latency.json").write_text(json.dumps({"warm_up_on": runs[True], "warm_up_off": runs[False]}))
    ratio_on = statistics.median(on["first"]) / statistics.median(on["warm"])
    ratio_off = statistics.median(off["first"]) / statistics.median(off["warm"])
    text = (
        f"## The page: Enter -> the next batch on screen at 25k rows (`bench/page_latency.py`)\n\n"
        f"{machine()}; load average {load:.1f} at the end of the run. `vectrain serve` on embedded chDB, "
        f"{ROWS:,} rows x {DIM} dims in {CLUSTERS} clusters with 32x32 PNG thumbnails, k=10 `mixed`, headless "
        f"Chromium labeling each batch from the cluster labels with the keyboard. {args.restarts} restarts with the "
        f"start-up warm-up and {args.restarts} without (`VECTRAIN_WARM_UP=false`), alternating; {args.rounds} rounds "
        "each, the first right after the restart. Times in ms, measured by the page from Enter to the next batch "
        "with its thumbnails on screen; the steps are medians.\n\n"
        + table(["", "warm-up", "median ms", "max ms", "labels", "train", "next", "thumbnails"], rows)
        + f"\n\nFirst rounds with the warm-up: {on['first']} ms; without: {off['first']} ms. Against the warm rounds "
        f"of the same restarts (the baseline): the first round took {ratio_on:.2f}x their median with the warm-up, "
        f"{ratio_off:.2f}x without. Targets: <= 1,500 ms for the first round after a restart, <= 500 ms warm, "
        "on a quiet machine; other work on the machine stretches every step alike (the load average above). "
        "Every round's timings: bench/plots/page_latency.json.\n\n"
        f"Command: `.venv/bin/python -m bench.page_latency --restarts {args.restarts} --rounds {args.rounds}`"
    )
    write_section(args.section, text)
    print(text)


if __name__ == "__main__":
    main()
