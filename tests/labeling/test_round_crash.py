"""Round numbers stay contiguous whatever dies when: a round's number is claimed by storing the
round (sql/schema/012_round_claims.sql), so a process killed mid-training leaves no number
claimed without its round."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vectrain.labeling.sessions import create_session, get_session, train_round
from vectrain.storage import claims

ROOT = Path(__file__).resolve().parents[2]

TRAIN = """
import sys
sys.path.insert(0, {root!r})
from tests.fixtures import load_toy
from vectrain.core.config import Settings
from vectrain.labeling.labels import add_labels
from vectrain.labeling.sessions import create_session, get_session, list_sessions, train_round
from vectrain.storage.store import Store
store = Store(Settings(database_url="chdb://{path}"), owner="round crash test")
store.migrate()
if not store.registry.list():
    vectors, labels, ids = load_toy(store, n=400, dim=16)
    s = create_session(store, "toy", "crash", vector=vectors[0].tolist())
    add_labels(store, s["id"], [{{"item_id": i, "score": 1.0 if l == labels[0] else -1.0}} for i, l in zip(ids[:60], labels)])
sid = list_sessions(store)[0]["id"]
if "{mode}" == "check":
    print("ROUNDS", [r["round"] for r in get_session(store, sid)["rounds"]], flush=True)
    print("NEXT", train_round(store, sid)["round"], flush=True)
else:
    while True:
        print("TRAIN", flush=True)
        train_round(store, sid)
"""


def run(path, mode, **kwargs):
    script = TRAIN.format(root=str(ROOT), path=path, mode=mode)
    return subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True, **kwargs)


def test_kill_9_during_training_leaves_no_gap_in_round_numbers(tmp_path):
    path = tmp_path / "db"
    rng = np.random.default_rng(0)
    for _ in range(6):  # killed at a different moment of a training each time
        proc = run(path, "train", stderr=subprocess.DEVNULL)
        trainings = 0
        for line in proc.stdout:
            trainings += line.startswith("TRAIN")
            if trainings == 3:
                break
        time.sleep(float(rng.uniform(0.0, 0.08)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    check = run(path, "check", stderr=subprocess.PIPE)
    out, err = check.communicate(timeout=300)
    assert check.returncode == 0, err[-2000:]
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    rounds = eval(lines["ROUNDS"])  # noqa: S307 - our own subprocess's list of ints
    assert rounds == list(range(len(rounds))) and len(rounds) >= 12, rounds
    assert int(lines["NEXT"]) == len(rounds)


def test_a_number_claimed_the_old_way_without_its_round_is_not_skipped(store, make_dataset):
    """What a kill between the old claim and the old insert left: round 1 claimed in `claims`, no
    round 1 stored. The next training is round 1."""
    vectors, labels, ids = make_dataset(n=200, dim=16)
    s = create_session(store, "toy", "gap", vector=vectors[0].tolist())
    from vectrain.labeling.labels import add_labels

    pairs = [{"item_id": i, "score": 1.0 if lab == labels[0] else -1.0} for i, lab in zip(ids[:30], labels)]
    add_labels(store, s["id"], pairs)
    assert claims.claim(store, "round", f"{s['id']}:1", "a process killed before it stored the round")
    assert train_round(store, s["id"])["round"] == 1
    assert train_round(store, s["id"])["round"] == 2
    assert [r["round"] for r in get_session(store, s["id"])["rounds"]] == [0, 1, 2]
