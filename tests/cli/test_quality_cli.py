"""The CLI of audits, estimates and example searches, over the service's HTTP path on the test
store: one line per figure, one line and a non-zero exit on bad input."""

import json
import uuid

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from vectrain.cli.main import main


@pytest.fixture
def cli(api, monkeypatch):
    def request(method, url, timeout=None, **kwargs):
        return api.request(method, url.replace("http://svc", ""), **kwargs)

    monkeypatch.setattr(httpx, "request", request)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, ["--url", "http://svc", *args])


def test_session_with_audit_shows_its_estimate(cli, make_dataset, store):
    store.settings = store.settings.model_copy(update={"estimate_min_audit": 4})
    vectors, labels, ids = make_dataset(n=200, clusters=3)
    truth = {i: labels[n] == labels[0] for n, i in enumerate(ids)}
    r = cli(
        "--json",
        "session",
        "create",
        "toy",
        "c_" + uuid.uuid4().hex[:8],
        "--positive",
        ids[0],
        "--negative",
        ids[int(np.flatnonzero(labels != labels[0])[0])],
        "--audit-rate",
        "0.25",
    )
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["audit_rate"] == 0.25 and s["labels"]["labeled"] == 2
    r = cli("session", "show", s["id"])
    assert "estimate: not enough audit labels yet" in r.output
    for _ in range(2):
        r = cli("--json", "session", "next", s["id"], "-k", "8", "--audit", "2")
        batch = json.loads(r.output)
        assert batch["audit"] == 2 and sum(i["source"] == "audit" for i in batch["items"]) == 2
        for source in ("audit", "mixed"):
            pairs = [f"{i['id']}={1 if truth[i['id']] else -1}" for i in batch["items"] if i["source"] == source]
            r = cli("session", "label", s["id"], *pairs, "--source", source, "--round", str(batch["round"]))
            assert r.exit_code == 0, r.output
        assert cli("session", "train", s["id"]).exit_code == 0
    r = cli("session", "next", s["id"], "-k", "3")
    assert r.exit_code == 0 and "source" in r.output
    r = cli("session", "show", s["id"])
    assert r.exit_code == 0 and "4 audit labels, 95% intervals): f1 " in r.output and "positives " in r.output, r.output
    r = cli("session", "next", s["id"], "-k", "3", "--audit", "4")
    assert r.exit_code != 0 and "audit must be from 0 to 3" in r.output
    r = cli("session", "label", s["id"], f"{ids[150]}=1", "--source", "audit")
    assert r.exit_code != 0 and "never drawn" in r.output and "Traceback" not in r.output


def test_search_by_examples(cli, make_dataset):
    vectors, labels, ids = make_dataset(n=200)
    r = cli(
        "--json",
        "search",
        "toy",
        "--positive",
        ids[0],
        "--positive",
        ids[1],
        "--negative",
        ids[2],
        "-k",
        "4",
        "--strategy",
        "best_score",
    )
    assert r.exit_code == 0, r.output
    got = [i["id"] for i in json.loads(r.output)["items"]]
    assert len(got) == 4 and not set(got) & set(ids[:3])
    r = cli("search", "toy", "--id", ids[0], "--positive", ids[1])
    assert r.exit_code != 0 and "exactly one" in r.output
