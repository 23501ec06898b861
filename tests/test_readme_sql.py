"""The README's SQL runs as written: every statement it shows (`vectrain sql "..."`, the curl to
POST /sql, and inline `SELECT ...`) is run through POST /sql against a real demo database named
as the README's (`vectrain`), after the README's own labeling loop for the session `zeros`; what
the README says the loop's classifier finds is what the SQL returns."""

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fixtures import TEST_HOST
from vectrain.api.app import create_app
from vectrain.core.config import Settings
from vectrain.loaders.demo import load_demo
from vectrain.storage.store import Store

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_sql() -> list[str]:
    """Every SQL statement the README shows."""
    text = README.read_text()
    found = re.findall(r'vectrain sql "([^"]+)"|\$V sql "([^"]+)"', text)
    statements = [a or b for a, b in found]
    for body in re.findall(r"curl -s localhost:8000/sql [^\n]*\\\n\s*-d '(.+)'\n", text):
        statements.append(json.loads(body.replace("'\"'\"'", "'"))["query"])
    statements += re.findall(r"In SQL: (SELECT [^\n`]+)", text)
    statements += re.findall(r"`(SELECT [^`]+)`", text)
    return statements


@pytest.fixture(scope="module")
def readme_api(engine_path):
    """The demo in a database named `vectrain` (the README's), with the README's session `zeros`
    labeled through its loop: from digit-0000 and digit-0010, 5 rounds of 10 (mixed) labeled from
    the `label` column, trained after each, then applied."""
    settings = Settings(database_url=f"chdb://{engine_path}", database="vectrain", allowed_hosts=TEST_HOST)
    stale = Store(settings, owner="pytest readme")  # a rerun in this engine: start clean
    stale.command(stale.dialect.drop_database("vectrain"))
    stale.close()
    store = Store(settings, owner="pytest readme")
    store.migrate()
    load_demo(store, progress=False)
    with TestClient(create_app(settings, store)) as api:
        truth = {i["id"]: i["label"] for i in api.post("/datasets/digits/browse", json={"limit": 1000}).json()["items"]}
        truth.update(
            {
                i["id"]: i["label"]
                for i in api.post("/datasets/digits/browse", json={"offset": 1000, "limit": 1000}).json()["items"]
            }
        )
        body = {"dataset": "digits", "name": "zeros", "positive_ids": ["digit-0000", "digit-0010"]}
        sid = api.post("/sessions", json=body).json()["id"]
        for _ in range(5):
            batch = api.post(f"/sessions/{sid}/next", json={"k": 10}).json()["items"]
            labels = [{"item_id": i["id"], "score": 1.0 if truth[i["id"]] == "0" else -1.0} for i in batch]
            assert api.post(f"/sessions/{sid}/labels", json={"labels": labels}).status_code == 200
            assert api.post(f"/sessions/{sid}/train", json={}).status_code == 200
        applied = api.post(f"/sessions/{sid}/apply", json={}).json()
        # The README's session with classes: the ten digits from one example each, 5 rounds of 10.
        digits = [str(d) for d in range(10)]
        examples = {d: [f"digit-000{d}"] for d in digits}
        body = {"dataset": "digits", "name": "digits10", "classes": digits, "examples": examples}
        cid = api.post("/sessions", json=body).json()["id"]
        for _ in range(5):
            batch = api.post(f"/sessions/{cid}/next", json={"k": 10}).json()["items"]
            labels = [{"item_id": i["id"], "class": truth[i["id"]]} for i in batch]
            assert api.post(f"/sessions/{cid}/labels", json={"labels": labels}).status_code == 200
            assert api.post(f"/sessions/{cid}/train", json={}).status_code == 200
        assert api.post(f"/sessions/{cid}/apply", json={}).status_code == 200
        yield api, applied
    store.command(store.dialect.drop_function("clf_vectrain__digits10"))
    store.command(store.dialect.drop_function("clf_vectrain__zeros"))
    store.command(store.dialect.drop_database("vectrain"))
    store.close()


def test_the_readme_shows_sql_and_every_statement_runs(readme_api):
    api, applied = readme_api
    statements = readme_sql()
    assert any("clf_vectrain__zeros(vector)" in s for s in statements), statements
    assert any("clf_vectrain__digits10(vector)" in s for s in statements), statements
    assert len(statements) >= 6, statements
    for statement in statements:
        r = api.post("/sql", json={"query": statement})
        assert r.status_code == 200, f"{statement}\n{r.text}"
        assert r.json()["rows"], statement


def test_what_the_readme_says_the_classifier_finds(readme_api):
    api, applied = readme_api
    text = README.read_text()
    claimed = re.search(r"# round 5: (\d+) of 1797 items positive", text)
    per_label = re.search(r"# label 0: (\d+) of 178; every other digit: 0", text)
    assert claimed and per_label
    assert applied["round"] == 5 and applied["positives"] == int(claimed.group(1))
    query = next(s for s in readme_sql() if "AS predicted_zero" in s)
    rows = api.post("/sql", json={"query": query}).json()["rows"]
    assert {label: hits for label, hits, _ in rows} == {
        str(d): (int(per_label.group(1)) if d == 0 else 0) for d in range(10)
    }
