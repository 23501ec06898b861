"""The acceptance of issue 27's team item through the REST API on the real engine: two labelers
on one session, five rounds each, at the same time (next, label, train, in two threads), with
named API keys. No item is handed to both within a lease, every label records its labeler, and
after each reviews some of the other's items the agreement on the items both labeled is
reported, equal to scikit-learn's Cohen's kappa on the same answers."""

import threading
import time
import uuid
import zlib

import numpy as np
from fastapi.testclient import TestClient
from sklearn.metrics import cohen_kappa_score

from vectrain.api.app import create_app
from vectrain.storage.query import Query

ROUNDS = 5
KEYS = {"api_keys": "alice:KEY-ALICE,bob:KEY-BOB"}


def test_two_labelers_five_rounds_each_concurrently(settings, store, make_dataset):
    _, clusters, ids = make_dataset(n=600)
    truth = {i: (1.0 if c == 0 else -1.0) for i, c in zip(ids, clusters)}
    slips = {"alice": 0, "bob": 15}  # bob mislabels about 15% of the items he sees (fixed per item)

    with TestClient(create_app(settings.model_copy(update=KEYS), store)) as api:
        header = {name: {"Authorization": f"Bearer KEY-{name.upper()}"} for name in slips}
        start = [i for i in ids if truth[i] > 0][:2]
        r = api.post(
            "/sessions",
            json={"dataset": "toy", "name": "t_" + uuid.uuid4().hex[:8], "positive_ids": start},
            headers=header["alice"],
        )
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        handed: list[tuple[str, float, float, list[str]]] = []  # (labeler, asked, answered, items)
        errors: list[BaseException] = []
        gate = threading.Barrier(2)

        def answer(name, item):
            return -truth[item] if zlib.crc32(item.encode()) % 100 < slips[name] else truth[item]

        def work(name):
            try:
                gate.wait()
                for _ in range(ROUNDS):
                    asked = time.monotonic()
                    r = api.post(f"/sessions/{sid}/next", json={"k": 10}, headers=header[name])
                    assert r.status_code == 200, r.text
                    batch = [i["id"] for i in r.json()["items"]]
                    assert r.json()["lease_seconds"] == store.settings.lease_seconds and len(batch) == 10
                    handed.append((name, asked, time.monotonic(), batch))
                    labels = [{"item_id": i, "score": answer(name, i)} for i in batch]
                    r = api.post(f"/sessions/{sid}/labels", json={"labels": labels}, headers=header[name])
                    assert r.status_code == 200, r.text
                    assert api.post(f"/sessions/{sid}/train", json={}, headers=header[name]).status_code == 200
            except BaseException as exc:  # reported by the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(name,)) for name in slips]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        assert not errors, errors

        # No item was handed to both within a lease: every lease lasted until its item was
        # labeled (10 minutes by default, far longer than this test), so the two labelers' batches
        # never share an item at all.
        by_labeler = {name: [i for who, _, _, b in handed if who == name for i in b] for name in slips}
        assert len(by_labeler["alice"]) == len(by_labeler["bob"]) == 10 * ROUNDS
        assert all(len(set(items)) == len(items) for items in by_labeler.values())
        assert not set(by_labeler["alice"]) & set(by_labeler["bob"])
        # ... and their batches did overlap in time: the two were asking at the same time.
        spans = {name: [(a, b) for who, a, b, _ in handed if who == name] for name in slips}
        assert any(a0 < b1 and a1 < b0 for a0, b0 in spans["alice"] for a1, b1 in spans["bob"])

        # Every label is attributed, to the one it was handed to.
        rows = store.rows(Query.named("team.session_labels_of", session_id=sid, ids=ids))
        assert len(rows) == 2 + 2 * 10 * ROUNDS
        owner = {i: name for name, items in by_labeler.items() for i in items} | dict.fromkeys(start, "alice")
        assert all(r["labeler"] == owner[r["item_id"]] for r in rows)

        # Review: each labels 15 of the other's items; agreement is reported on those 30.
        for name, other in (("alice", "bob"), ("bob", "alice")):
            review = [{"item_id": i, "score": answer(name, i)} for i in by_labeler[other][:15]]
            assert api.post(f"/sessions/{sid}/labels", json={"labels": review}, headers=header[name]).status_code == 200
        d = api.get(f"/sessions/{sid}/disagreements", headers=header["alice"]).json()
        (pair,) = d["agreement"]
        both = by_labeler["alice"][:15] + by_labeler["bob"][:15]
        votes = {
            (r["item_id"], r["labeler"]): r["score"]
            for r in store.rows(
                Query(
                    f"SELECT item_id, labeler, score FROM label_votes FINAL WHERE session_id = '{sid}' AND removed = 0"
                )
            )
        }
        a = [np.sign(votes[(i, "alice")]) for i in both]
        b = [np.sign(votes[(i, "bob")]) for i in both]
        assert pair["labelers"] == ["alice", "bob"] and pair["items"] == 30 and pair["enough"]
        assert abs(pair["kappa"] - cohen_kappa_score(a, b)) < 1e-9
        assert d["disagreements"] == sum(x != y for x, y in zip(a, b)) == len(d["items"])
        counts = {c["labeler"]: c for c in api.get(f"/sessions/{sid}", headers=header["bob"]).json()["labelers"]}
        assert counts["alice"]["answers"] == 2 + 10 * ROUNDS + 15 and counts["bob"]["answers"] == 10 * ROUNDS + 15
        print(
            f"\ntwo labelers, {ROUNDS} rounds each at once: {len(handed)} batches, none shared; "
            f"agreement on {pair['items']} items both labeled: {pair['agreed']} agree, "
            f"kappa {pair['kappa']:.3f} [{pair['kappa_low']:.3f}, {pair['kappa_high']:.3f}]"
        )
