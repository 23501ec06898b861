"""Labelers on one session, through the REST API on the real engine: named keys, who gave each
label, counts per labeler, disagreements and Cohen's kappa (against scikit-learn's), per-labeler
undo, and leases (disjoint concurrent batches, expiry, a labeler's own leased items first)."""

import threading
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import cohen_kappa_score

from vectrain.api.app import create_app
from vectrain.api.security import Keys, named_keys
from vectrain.labeling.team import kappa
from vectrain.storage.query import Query

KEYS = {"api_keys": "alice:KEY-A,bob:KEY-B,plain-key", "read_api_keys": "carol:KEY-R"}


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def as_(name: str) -> dict:
    return {"X-Vectrain-Labeler": name}


@pytest.fixture
def keyed(settings, store):
    with TestClient(create_app(settings.model_copy(update=KEYS), store)) as client:
        yield client


def new_session(api, ids, headers=None, **extra) -> str:
    body = {"dataset": "toy", "name": "t_" + uuid.uuid4().hex[:10], "positive_ids": ids[:2], **extra}
    r = api.post("/sessions", json=body, headers=headers or {})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_named_keys_parse_and_name_the_caller(keyed):
    assert named_keys("alice:K1, bob:K2 ,plain, :x, we!rd:K3") == [
        ("alice", b"K1"),
        ("bob", b"K2"),
        ("", b"plain"),
        ("", b":x"),  # no name before the ':': a key without a name, whole
        ("", b"we!rd:K3"),  # not a labeler's name: the whole entry is the key
    ]
    keys = Keys(keyed.app.state.store.settings.model_copy(update=KEYS))
    assert keys.identify("KEY-A") == ("write", "alice") and keys.identify("KEY-R") == ("read", "carol")
    assert keys.identify("plain-key") == ("write", "") and keys.identify("alice:KEY-A") == (None, "")

    who = keyed.get("/whoami", headers={**bearer("KEY-A"), **as_("mallory")}).json()
    assert who == {"auth": True, "role": "write", "may_write": True, "labeler": "alice", "named_key": True}
    # A key without a name: the page's header names the labeler; a read key's name is its own.
    who = keyed.get("/whoami", headers={**bearer("plain-key"), **as_("dave")}).json()
    assert who["labeler"] == "dave" and not who["named_key"]
    assert keyed.get("/whoami", headers=bearer("KEY-R")).json()["labeler"] == "carol"
    assert keyed.get("/whoami", headers=bearer("alice")).status_code == 401  # a name is not a key
    r = keyed.get("/whoami", headers={**bearer("plain-key"), **as_("x" * 65)})
    assert r.status_code == 400 and "labeler" in r.json()["detail"]


def test_without_keys_the_header_names_the_labeler(api):
    assert api.get("/whoami").json()["labeler"] == ""
    assert api.get("/whoami", headers=as_(" Ana Lopez ")).json() == {
        "auth": False,
        "role": "write",
        "may_write": True,
        "labeler": "Ana Lopez",
        "named_key": False,
    }
    for bad in ("-dash", "semi;colon", "a\tb"):
        assert api.get("/whoami", headers=as_(bad)).status_code == 400


def test_every_label_records_its_labeler_and_counts_per_labeler(keyed, make_dataset):
    _, _, ids = make_dataset(n=200)
    sid = new_session(keyed, ids, bearer("KEY-A"))
    store = keyed.app.state.store
    r = keyed.post(
        f"/sessions/{sid}/labels",
        json={"labels": [{"item_id": i, "score": 1.0} for i in ids[10:14]]},
        headers={**bearer("KEY-A"), **as_("bob")},  # the header cannot speak for a named key
    )
    assert r.status_code == 200, r.text
    keyed.post(
        f"/sessions/{sid}/labels",
        json={"labels": [{"item_id": ids[13], "score": -1.0}, {"item_id": ids[20], "score": -1.0}]},
        headers=bearer("KEY-B"),
    )
    keyed.post(
        f"/sessions/{sid}/labels", json={"labels": [{"item_id": ids[30], "score": 0.0}]}, headers=bearer("KEY-B")
    )
    assert keyed.post(f"/sessions/{sid}/labels", json={"labels": []}, headers=bearer("KEY-R")).status_code in (403, 422)

    listed = {x["item_id"]: x for x in keyed.get(f"/sessions/{sid}/labels", headers=bearer("KEY-A")).json()["labels"]}
    by = {i: x["labeler"] for i, x in listed.items()}
    # The examples the session started from are alice's (she created it), then her 4, bob's 3.
    assert by[ids[0]] == by[ids[1]] == "alice" and by[ids[10]] == "alice" and by[ids[20]] == "bob"
    # ids[13]: bob's newer label is the session's; both answers are kept.
    assert listed[ids[13]]["score"] == -1.0 and by[ids[13]] == "bob"
    assert sorted((a["labeler"], a["score"]) for a in listed[ids[13]]["answers"]) == [("alice", 1.0), ("bob", -1.0)]
    assert listed[ids[10]]["answers"] == []

    info = keyed.get(f"/sessions/{sid}", headers=bearer("KEY-A")).json()
    counts = {c["labeler"]: c for c in info["labelers"]}
    assert counts["alice"] == {
        "labeler": "alice",
        "answers": 6,
        "positives": 6,
        "negatives": 0,
        "neutral": 0,
        "classes": {},
        "labels": 5,
    }
    assert counts["bob"] == {
        "labeler": "bob",
        "answers": 3,
        "positives": 0,
        "negatives": 2,
        "neutral": 1,
        "classes": {},
        "labels": 3,
    }
    assert info["labels"]["labeled"] == 8
    # label_history's labeler is who acted, for every action.
    acted = store.rows(Query(f"SELECT DISTINCT labeler FROM label_history WHERE session_id = '{sid}' ORDER BY labeler"))
    assert [r["labeler"] for r in acted] == ["alice", "bob"]


def test_disagreements_and_kappa_against_a_direct_computation(api, store, make_dataset, settings):
    _, clusters, ids = make_dataset(n=300)
    sid = new_session(api, ids)
    shared = ids[50:90]
    truth = [1.0 if c == 0 else -1.0 for c in clusters[50:90]]
    # ann's answers: the truth; ben's: the truth with every 4th flipped, and one neutral grade.
    ben = [(-s if n % 4 == 0 else s) for n, s in enumerate(truth)]
    ben[7] = 0.0
    api.post(
        f"/sessions/{sid}/labels",
        json={"labels": [{"item_id": i, "score": s} for i, s in zip(shared, truth)]},
        headers=as_("ann"),
    )
    api.post(
        f"/sessions/{sid}/labels",
        json={"labels": [{"item_id": i, "score": s} for i, s in zip(shared, ben)]},
        headers=as_("ben"),
    )
    api.post(f"/sessions/{sid}/labels", json={"labels": [{"item_id": ids[99], "score": 1.0}]}, headers=as_("ann"))

    r = api.get(f"/sessions/{sid}/disagreements")
    assert r.status_code == 200, r.text
    d = r.json()
    sign = lambda s: "positive" if s > 0 else "negative" if s < 0 else "neutral"  # noqa: E731
    differ = [i for i, a, b in zip(shared, truth, ben) if sign(a) != sign(b)]
    assert d["shared"] == 40 and d["disagreements"] == len(differ)
    assert [x["item_id"] for x in d["items"]] == sorted(differ)
    first = d["items"][0]
    assert first["labeler"] == "ben" and first["score"] == ben[shared.index(first["item_id"])]
    assert {a["labeler"] for a in first["answers"]} == {"ann", "ben"}
    assert first["label"] == f"c{clusters[ids.index(first['item_id'])]}"

    (pair,) = d["agreement"]
    assert pair["labelers"] == ["ann", "ben"] and pair["items"] == 40 and pair["enough"]
    expected = cohen_kappa_score([sign(s) for s in truth], [sign(s) for s in ben])
    assert pair["kappa"] == pytest.approx(expected, abs=1e-9)
    assert pair["agreed"] == 40 - len(differ) and pair["kappa_low"] < pair["kappa"] < pair["kappa_high"]
    assert (
        api.get(f"/sessions/{sid}/disagreements", params={"limit": 2}).json()["items"][1]["item_id"]
        == sorted(differ)[1]
    )

    # Too few shared items: no kappa, and the reason says how many it needs.
    sid2 = new_session(api, ids)
    for who, s in (("ann", 1.0), ("ben", -1.0)):
        api.post(
            f"/sessions/{sid2}/labels",
            json={"labels": [{"item_id": i, "score": s} for i in ids[5:8]]},
            headers=as_(who),
        )
    (pair,) = api.get(f"/sessions/{sid2}/disagreements").json()["agreement"]
    assert pair["kappa"] is None and not pair["enough"] and "from 10" in pair["reason"]


def test_kappa_edge_cases():
    assert kappa(["a", "a", "b"], ["a", "a", "b"])["kappa"] == 1.0
    assert kappa(["a"] * 5, ["a"] * 5)["kappa"] is None  # chance agreement 1: undefined
    three = (["x", "y", "z", "x", "y", "z", "x"], ["x", "y", "y", "x", "z", "z", "y"])
    assert kappa(*three)["kappa"] == pytest.approx(cohen_kappa_score(*three))


def test_undo_takes_back_only_your_own_changes(api, make_dataset):
    _, _, ids = make_dataset(n=200)
    sid = new_session(api, ids)
    api.post(
        f"/sessions/{sid}/labels",
        json={"labels": [{"item_id": i, "score": 1.0} for i in ids[10:13]]},
        headers=as_("ann"),
    )
    api.post(
        f"/sessions/{sid}/labels",
        json={"labels": [{"item_id": ids[12], "score": -1.0}, {"item_id": ids[20], "score": 1.0}]},
        headers=as_("ben"),
    )
    r = api.post(f"/sessions/{sid}/labels/undo", headers=as_("ann"))
    assert r.status_code == 200, r.text
    undone = r.json()["undone"]
    # ann's batch is taken back, except ids[12], which ben labeled since: his label stays.
    assert sorted(x["item_id"] for x in undone["items"]) == ids[10:12] and undone["kept"] == [ids[12]]
    live = {x["item_id"]: x for x in api.get(f"/sessions/{sid}/labels").json()["labels"]}
    assert ids[10] not in live and live[ids[12]]["score"] == -1.0 and live[ids[20]]["labeler"] == "ben"
    counts = {c["labeler"]: c["answers"] for c in api.get(f"/sessions/{sid}").json()["labelers"]}
    assert counts == {"": 2, "ben": 2}  # ann's answers are gone with her undo; the examples are no one's
    assert api.post(f"/sessions/{sid}/labels/undo", headers=as_("ann")).status_code == 404
    assert (
        api.post(f"/sessions/{sid}/labels/undo", headers=as_("ben")).json()["undone"]["items"][0]["item_id"] == ids[12]
    )
    live = {x["item_id"]: x for x in api.get(f"/sessions/{sid}/labels").json()["labels"]}
    assert ids[12] not in live and ids[20] not in live  # before ben's action, ids[12] had ann's label, now undone


def _next(api, sid, who, k=10, **body):
    r = api.post(f"/sessions/{sid}/next", json={"k": k, **body}, headers=as_(who) if who else {})
    assert r.status_code == 200, r.text
    return r.json()


def _race(api, sid: str, prefix: str) -> dict[str, list[str]]:
    """Six named labelers ask for a `top` batch at the same moment: each one's items; every batch
    is whole and no item is in two."""
    batches: dict[str, list[str]] = {}
    start = threading.Barrier(6)

    def ask(who):
        start.wait()
        batches[who] = [i["id"] for i in _next(api, sid, who, strategy="top")["items"]]

    threads = [threading.Thread(target=ask, args=(f"{prefix}{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handed = [i for b in batches.values() for i in b]
    assert all(len(b) == 10 for b in batches.values()) and len(set(handed)) == 60
    return batches


def test_concurrent_labelers_get_disjoint_batches(api, make_dataset):
    _, _, ids = make_dataset(n=400)
    sid = new_session(api, ids)
    batches = _race(api, sid, "labeler")
    handed = [i for b in batches.values() for i in b]
    # Someone without a name skips every leased item and takes no lease.
    anon = [i["id"] for i in _next(api, sid, "", strategy="top")["items"]]
    assert not set(anon) & set(handed) and _next(api, sid, "")["lease_seconds"] is None
    assert [i["id"] for i in _next(api, sid, "", strategy="top")["items"]] == anon


def test_own_leased_items_come_back_first_until_labeled(api, make_dataset):
    _, _, ids = make_dataset(n=300)
    sid = new_session(api, ids)
    first = _next(api, sid, "ann")
    assert first["lease_seconds"] == 600
    got = [i["id"] for i in first["items"]]
    again = _next(api, sid, "ann", strategy="random")  # a reload: the same items, whatever the strategy
    assert [i["id"] for i in again["items"]] == got
    assert [i["source"] for i in again["items"]] == [i["source"] for i in first["items"]]
    assert [i["id"] for i in _next(api, sid, "ann", k=4)["items"]] == got[:4]
    # Label 6 of them: the other 4 come back first, then new ones.
    api.post(
        f"/sessions/{sid}/labels", json={"labels": [{"item_id": i, "score": -1.0} for i in got[:6]]}, headers=as_("ann")
    )
    third = [i["id"] for i in _next(api, sid, "ann")["items"]]
    assert third[:4] == got[6:] and not set(third[4:]) & set(got)
    # ben never sees ann's items.
    ben = [i["id"] for i in _next(api, sid, "ben", k=50)["items"]]
    assert not set(ben) & set(third)


def test_leases_expire(settings, store, make_dataset):
    _, _, ids = make_dataset(n=200)
    store.settings.lease_seconds = 1.0  # the service reads its store's settings
    with TestClient(create_app(store.settings, store)) as api:
        sid = new_session(api, ids)
        ann = _next(api, sid, "ann", strategy="top")
        assert ann["lease_seconds"] == 1.0
        ben = _next(api, sid, "ben", strategy="top")
        assert not {i["id"] for i in ann["items"]} & {i["id"] for i in ben["items"]}
        time.sleep(1.2)
        # Both leases are over: cy gets the top items, ann's; ann's next batch is new work.
        assert _next(api, sid, "cy", strategy="top")["items"] == ann["items"]
        assert not {i["id"] for i in _next(api, sid, "ann", strategy="top")["items"]} & {i["id"] for i in ann["items"]}
        store.settings.lease_seconds = 0
        sid = new_session(api, ids)
        one, two = (_next(api, sid, who, strategy="top") for who in ("ann", "ben"))
        assert one["items"] == two["items"] and one["lease_seconds"] is None  # leases off: as before


def test_a_read_key_previews_without_a_lease(keyed, make_dataset):
    _, _, ids = make_dataset(n=200)
    sid = new_session(keyed, ids, bearer("KEY-A"))
    alice = keyed.post(f"/sessions/{sid}/next", json={"k": 5, "strategy": "top"}, headers=bearer("KEY-A")).json()
    carol = keyed.post(f"/sessions/{sid}/next", json={"k": 5, "strategy": "top"}, headers=bearer("KEY-R")).json()
    assert carol["lease_seconds"] is None and not {i["id"] for i in carol["items"]} & {i["id"] for i in alice["items"]}
    bob = keyed.post(f"/sessions/{sid}/next", json={"k": 5, "strategy": "top"}, headers=bearer("KEY-B")).json()
    assert [i["id"] for i in bob["items"]] == [i["id"] for i in carol["items"]]  # carol's preview leased nothing


def test_grants_serialize_without_the_process_lock(api, store, make_dataset, monkeypatch):
    """As on a ClickHouse server with several replicas: no book kept in the process, no lock
    between requests; the deduplication token alone keeps one of two grants with one number, and
    the loser asks again under the next. Concurrent labelers still get disjoint batches."""
    from vectrain.labeling import leases

    _, _, ids = make_dataset(n=400)
    sid = new_session(api, ids)
    monkeypatch.setattr(leases, "_book", lambda store, session_id: None)
    monkeypatch.setattr(leases, "_lock", lambda session_id: threading.Lock())  # a lock nobody shares
    lost = []
    grant = leases._grant

    def counting(*args, **kwargs):
        won = grant(*args, **kwargs)
        if not won:
            lost.append(args[2])
        return won

    monkeypatch.setattr(leases, "_grant", counting)
    _race(api, sid, "replica")  # asserts whole, disjoint batches
    grants = store.rows(
        Query(f"SELECT grant_no, uniqExact(claimant) AS c FROM leases WHERE session_id = '{sid}' GROUP BY grant_no")
    )
    assert sorted(r["grant_no"] for r in grants) == list(range(6)) and {r["c"] for r in grants} == {1}
    assert lost, "the six requests never raced for one grant number: the test did not test the token"


def test_every_strategy_of_a_scored_round_skips_leased_items(api, make_dataset):
    """After an `auto` round the batches are read from the session's scored round (bands, the top,
    random ranks): each strategy gives a named labeler what it gives a caller without a name, and
    once that is leased, the next caller's batch holds none of it."""
    vectors, labels, ids = make_dataset(n=600, clusters=4)
    sid = new_session(api, ids)
    first = [i for i in range(0, 600, 10)]
    marks = [{"item_id": ids[i], "score": 1.0 if labels[i] == labels[0] else -1.0} for i in first]
    assert api.post(f"/sessions/{sid}/labels", json={"labels": marks}).status_code == 200
    assert api.post(f"/sessions/{sid}/train", json={}).json()["round"] == 1
    leased: set[str] = set()
    for n, strategy in enumerate(("boundary", "mixed", "top", "random")):
        before = _next(api, sid, "", strategy=strategy)
        assert before["scored_round"] == before["round"] == 1, before["source"]
        got = _next(api, sid, f"labeler{n}", strategy=strategy)
        assert got["lease_seconds"] == 600 and got["scored_round"] == 1
        ids_got = [i["id"] for i in got["items"]]
        assert ids_got == [i["id"] for i in before["items"]], strategy  # the same rule, the same rows
        assert len(set(ids_got)) == 10 and not set(ids_got) & leased, strategy
        leased |= set(ids_got)
        after = [i["id"] for i in _next(api, sid, "", strategy=strategy)["items"]]
        assert len(after) == 10 and not set(after) & leased, strategy
