"""The `vectrain session` commands, against a service (the CLI's HTTP path) on the test store."""

import uuid

import numpy as np
from click.testing import CliRunner

from vectrain.cli.main import main


def test_session_cli_round_trip(api, make_dataset, tmp_path, monkeypatch):
    vectors, labels, ids = make_dataset(n=200)
    # Route the CLI's HTTP calls to the TestClient: the same endpoints a running service serves.
    import httpx

    def request(method, url, timeout=None, **kwargs):
        return api.request(method, url.replace("http://svc", ""), **kwargs)

    monkeypatch.setattr(httpx, "request", request)
    runner = CliRunner()
    vec = tmp_path / "w.npy"
    np.save(vec, vectors[0])
    name = "cli_" + uuid.uuid4().hex[:8]
    r = runner.invoke(
        main, ["--url", "http://svc", "--json", "session", "create", "toy", name, "--vector-file", str(vec)]
    )
    assert r.exit_code == 0, r.output
    import json

    sid = json.loads(r.output)["id"]
    r = runner.invoke(main, ["--url", "http://svc", "--json", "session", "next", sid, "-k", "6"])
    got = [i["id"] for i in json.loads(r.output)["items"]]
    assert len(got) == 6
    pairs = [f"{i}={1 if labels[ids.index(i)] == labels[0] else -1}" for i in got]
    r = runner.invoke(main, ["--url", "http://svc", "session", "label", sid, *pairs])
    assert r.exit_code == 0 and "stored 6" in r.output, r.output
    r = runner.invoke(main, ["--url", "http://svc", "session", "label", sid, f"{ids[0]}=7"])
    assert r.exit_code != 0 and "outside [-1, 1]" in r.output
    r = runner.invoke(main, ["--url", "http://svc", "session", "train", sid, "--mode", "seed"])
    assert r.exit_code == 0 and "round 1" in r.output, r.output
    r = runner.invoke(main, ["--url", "http://svc", "session", "apply", sid])
    assert r.exit_code == 0 and f"__{name}(vector) > 0" in r.output, r.output
    r = runner.invoke(main, ["--url", "http://svc", "session", "show", sid])
    assert r.exit_code == 0 and "6 labels" in r.output, r.output


def test_session_cli_undo_rename_delete(api, make_dataset, monkeypatch):
    """undo, rename and delete over HTTP, and in this process on the same database."""
    import json

    import httpx

    vectors, labels, ids = make_dataset(n=120)
    monkeypatch.setattr(
        httpx,
        "request",
        lambda method, url, timeout=None, **kw: api.request(method, url.replace("http://svc", ""), **kw),
    )
    runner = CliRunner()
    cli = lambda *args: runner.invoke(main, ["--url", "http://svc", *args])  # noqa: E731
    name, new = "cli_" + uuid.uuid4().hex[:8], "cli_" + uuid.uuid4().hex[:8]
    sid = json.loads(cli("--json", "session", "create", "toy", name, "--positive", ids[0]).output)["id"]
    assert cli("session", "label", sid, f"{ids[1]}=-1", f"{ids[2]}=-1").exit_code == 0
    assert cli("session", "label", sid, f"{ids[1]}=1").exit_code == 0
    r = cli("session", "undo", sid)
    assert r.exit_code == 0 and f"restored {ids[1]}=-1" in r.output, r.output
    r = cli("session", "undo", sid)
    assert f"removed the labels of {ids[1]}, {ids[2]}" in r.output, r.output
    r = cli("session", "undo", sid)
    assert "nothing earlier to undo" in r.output, r.output
    r = cli("session", "undo", sid)
    assert r.exit_code != 0 and "Nothing to undo" in r.output
    r = cli("session", "rename", sid, new)
    assert r.exit_code == 0 and f"is now '{new}'" in r.output and f"__{new}" in r.output, r.output
    r = cli("session", "rename", sid, "Bad")
    assert r.exit_code != 0 and "should match pattern" in r.output, r.output
    r = cli("session", "delete", sid)
    assert r.exit_code == 0 and f"deleted session {sid} '{new}' on toy (0 labels)" in r.output, r.output
    assert cli("session", "show", sid).exit_code != 0


def test_multiclass_session_cli(api, make_dataset, monkeypatch):
    vectors, labels, ids = make_dataset(n=150, clusters=3)
    import json

    import httpx

    def request(method, url, timeout=None, **kwargs):
        return api.request(method, url.replace("http://svc", ""), **kwargs)

    monkeypatch.setattr(httpx, "request", request)
    runner = CliRunner()
    name = "cli_" + uuid.uuid4().hex[:8]
    first = {c: ids[int(np.flatnonzero(labels == c)[0])] for c in range(3)}
    args = ["--url", "http://svc", "--json", "session", "create", "toy", name, "--classes", "c0,c1,c2"]
    args += [f"--example=c{c}={i}" for c, i in first.items()]
    r = runner.invoke(main, args)
    assert r.exit_code == 0, r.output
    sid = json.loads(r.output)["id"]
    r = runner.invoke(main, ["--url", "http://svc", "session", "next", sid, "-k", "4", "--strategy", "margin"])
    assert r.exit_code == 0 and "round 0, margin" in r.output and "margin" in r.output, r.output
    r = runner.invoke(main, ["--url", "http://svc", "--json", "session", "next", sid, "-k", "4"])
    got = [i["id"] for i in json.loads(r.output)["items"]]
    pairs = [f"{i}=c{labels[ids.index(i)]}" for i in got]
    r = runner.invoke(main, ["--url", "http://svc", "session", "label", sid, *pairs])
    assert r.exit_code == 0 and "stored 4" in r.output, r.output
    r = runner.invoke(main, ["--url", "http://svc", "session", "label", sid, f"{ids[5]}=dog"])
    assert r.exit_code != 0 and "no class 'dog'" in r.output
    r = runner.invoke(main, ["--url", "http://svc", "session", "train", sid])
    assert r.exit_code == 0 and "round 1" in r.output and "accuracy" in r.output, r.output
    r = runner.invoke(main, ["--url", "http://svc", "session", "apply", sid])
    assert r.exit_code == 0 and "150 items" in r.output and "GROUP BY class" in r.output, r.output
    r = runner.invoke(main, ["--url", "http://svc", "session", "show", sid])
    assert r.exit_code == 0 and "classes c0, c1, c2" in r.output and "7 labels" in r.output, r.output


def test_session_cli_labels_as_vectrain_labeler(api, make_dataset, monkeypatch):
    """VECTRAIN_LABELER names the CLI's labels, its next batches' leases and its undo."""
    import json

    import httpx

    from vectrain.core.config import get_settings

    _, _, ids = make_dataset(n=120)
    monkeypatch.setattr(
        httpx,
        "request",
        lambda method, url, timeout=None, **kw: api.request(method, url.replace("http://svc", ""), **kw),
    )
    monkeypatch.setenv("VECTRAIN_LABELER", "zoe")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        cli = lambda *args: runner.invoke(main, ["--url", "http://svc", *args])  # noqa: E731
        sid = json.loads(
            cli("--json", "session", "create", "toy", "cli_" + uuid.uuid4().hex[:8], "--positive", ids[0]).output
        )["id"]
        r = cli("--json", "session", "next", sid, "-k", "3")
        got = [i["id"] for i in json.loads(r.output)["items"]]
        assert json.loads(cli("--json", "session", "next", sid, "-k", "3").output)["lease_seconds"] == 600
        assert cli("session", "label", sid, *[f"{i}=-1" for i in got]).exit_code == 0
        labeled = {x["item_id"]: x["labeler"] for x in api.get(f"/sessions/{sid}/labels").json()["labels"]}
        assert {labeled[i] for i in [ids[0], *got]} == {"zoe"}
        assert cli("session", "undo", sid).exit_code == 0  # zoe's own change
        monkeypatch.setenv("VECTRAIN_LABELER", "no;pe")
        get_settings.cache_clear()
        r = cli("session", "label", sid, f"{ids[5]}=1")
        assert r.exit_code != 0 and "labeler" in r.output
    finally:
        get_settings.cache_clear()


def test_session_cli_labeler_in_process_and_with_classes(store, make_dataset, monkeypatch):
    """Without a service the CLI runs on the store in this process: VECTRAIN_LABELER names a binary
    session's examples and a session with classes' examples and class labels there too."""
    import json

    from vectrain.cli.common import Context
    from vectrain.core.config import get_settings
    from vectrain.labeling import labels as session_labels

    _, labels, ids = make_dataset(n=150, clusters=3)
    monkeypatch.setattr(Context, "remote", lambda self: False)
    monkeypatch.setattr(Context, "store", lambda self: store)
    monkeypatch.setattr(Context, "close", lambda self: None)  # the test's store outlives the command
    monkeypatch.setenv("VECTRAIN_LABELER", "zoe")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        r = runner.invoke(
            main, ["--json", "session", "create", "toy", "cli_" + uuid.uuid4().hex[:8], "--positive", ids[0]]
        )
        assert r.exit_code == 0, r.output
        binary = json.loads(r.output)["id"]
        assert {x["labeler"] for x in session_labels.get_labels(store, binary)} == {"zoe"}
        first = {c: ids[int(np.flatnonzero(labels == c)[0])] for c in range(3)}
        args = ["--json", "session", "create", "toy", "cli_" + uuid.uuid4().hex[:8], "--classes", "c0,c1,c2"]
        r = runner.invoke(main, args + [f"--example=c{c}={i}" for c, i in first.items()])
        assert r.exit_code == 0, r.output
        sid = json.loads(r.output)["id"]
        r = runner.invoke(main, ["session", "label", sid, f"{ids[40]}=c1", f"{ids[41]}=c2"])
        assert r.exit_code == 0, r.output
        got = {x["item_id"]: (x["class"], x["labeler"]) for x in session_labels.get_labels(store, sid)}
        assert got[ids[40]] == ("c1", "zoe") and got[ids[41]] == ("c2", "zoe")
        assert {who for _, who in got.values()} == {"zoe"}  # the examples too
    finally:
        get_settings.cache_clear()
