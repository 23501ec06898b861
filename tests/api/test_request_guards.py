"""What a request meets before any work: the key before the body is read or parsed, the Host and
Origin of a browser's request, and the methods a path answers."""

import pytest
from fastapi.testclient import TestClient

from tests.fixtures import READ_KEY
from vectrain.api.app import create_app


# -- the key before the body ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, body, content_type",
    [
        ("/sql", b"x", "application/json"),
        ("/sql", b'{"query": 1}', "application/json"),
        ("/datasets/toy/search", b"{", "application/json"),
        ("/sessions", b"[]", "application/json"),
        ("/datasets/toy/load", b"--b\r\nbroken", "multipart/form-data; boundary=b"),
    ],
)
def test_no_key_is_401_before_the_body_is_parsed(keyed, path, body, content_type):
    r = keyed.post(path, content=body, headers={"content-type": content_type})
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "unauthorized"


def test_a_read_key_on_a_write_is_403_before_the_body_is_parsed(keyed):
    r = keyed.post(
        "/sessions", content=b"x", headers={"content-type": "application/json", "Authorization": f"Bearer {READ_KEY}"}
    )
    assert r.status_code == 403, r.text
    r = keyed.post(
        "/sql", content=b"x", headers={"content-type": "application/json", "Authorization": f"Bearer {READ_KEY}"}
    )
    assert r.status_code == 422  # a read key may run SQL: now the body is parsed, and refused


def test_an_upload_without_a_key_is_never_stored(keyed, settings, tmp_path):
    from vectrain.jobs.load_paths import uploads_dir

    before = set(uploads_dir(settings).glob("*")) if uploads_dir(settings).is_dir() else set()
    r = keyed.post("/datasets/toy/load", data={"source": "features"}, files={"file": ("x.npz", b"0" * 100_000)})
    assert r.status_code == 401
    after = set(uploads_dir(settings).glob("*")) if uploads_dir(settings).is_dir() else set()
    assert after == before


def test_without_a_key_not_a_byte_of_the_body_is_read(keyed):
    """Driven at the ASGI level: the app never asks for the body of a request it refuses."""
    import anyio

    app = keyed.app
    pulled = []

    async def receive():
        pulled.append(1)
        return {"type": "http.request", "body": b"--b\r\n" + b"0" * 1_000_000, "more_body": True}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/datasets/toy/load",
        "raw_path": b"/datasets/toy/load",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"multipart/form-data; boundary=b")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    anyio.run(app, scope, receive, send)
    assert sent[0]["status"] == 401
    assert pulled == []


# -- a web page on another site, without keys ----------------------------------------------------
@pytest.fixture
def open_api(settings, store):
    """No keys, and only the default host names (TestClient asks for them explicitly below)."""
    plain = settings.model_copy(update={"allowed_hosts": ""})
    with TestClient(create_app(plain, store), base_url="http://127.0.0.1:8000") as client:
        yield client


def test_dns_rebinding_is_refused_without_keys(open_api, make_dataset):
    make_dataset(n=20)
    for host in ("attacker.example", "attacker.example:8000", "127.0.0.1.attacker.example", ""):
        r = open_api.get("/datasets", headers={"Host": host})
        assert r.status_code == 403, (host, r.text)
        assert r.json()["code"] == "host_not_allowed" and "VECTRAIN_ALLOWED_HOSTS" in r.json()["detail"]
        assert open_api.get("/", headers={"Host": host}).status_code == 403  # the page and its files too
    for host in ("127.0.0.1:8000", "localhost:8000", "localhost", "[::1]:8000", "LOCALHOST:1"):
        assert open_api.get("/datasets", headers={"Host": host}).status_code == 200, host


def test_another_sites_writes_are_refused_without_keys(open_api, make_dataset):
    vectors, _, ids = make_dataset(n=20)
    evil = {"Origin": "http://evil.example"}
    r = open_api.post("/datasets/x/load", data={"source": "demo"}, headers=evil)  # a form: no preflight
    assert r.status_code == 403 and r.json()["code"] == "cross_origin", r.text
    assert open_api.get("/jobs").json() == []
    r = open_api.post("/sessions", json={"dataset": "toy", "name": "evil", "vector": vectors[0].tolist()}, headers=evil)
    assert r.status_code == 403
    assert open_api.request("DELETE", "/datasets/toy", headers=evil).status_code == 403
    assert open_api.post("/sql", json={"query": "SELECT 1"}, headers={"Origin": "null"}).status_code == 403
    # The page's own origin writes; so do clients that send no Origin (the CLI, curl); reads pass.
    own = {"Origin": "http://127.0.0.1:8000"}
    r = open_api.post("/sessions", json={"dataset": "toy", "name": "own", "vector": vectors[0].tolist()}, headers=own)
    assert r.status_code == 201, r.text
    assert open_api.post("/sql", json={"query": "SELECT 1"}).status_code == 200
    assert open_api.get("/datasets", headers=evil).status_code == 200  # no CORS header: the page cannot read it
    assert "access-control-allow-origin" not in open_api.get("/datasets", headers=evil).headers


def test_configured_hosts_and_origins_are_allowed(settings, store, make_dataset):
    make_dataset(n=20)
    more = settings.model_copy(update={"allowed_hosts": "box.lan", "cors_origins": "https://app.example"})
    with TestClient(create_app(more, store), base_url="http://box.lan:8000") as api:
        assert api.get("/datasets").status_code == 200
        r = api.post("/sql", json={"query": "SELECT 1"}, headers={"Origin": "https://app.example"})
        assert r.status_code == 200
        assert api.post("/sql", json={"query": "SELECT 1"}, headers={"Origin": "https://x.example"}).status_code == 403


def test_with_keys_any_host_is_answered(keyed):
    r = keyed.get("/datasets", headers={"Host": "vectrain.example.com", "Authorization": f"Bearer {READ_KEY}"})
    assert r.status_code == 200


# -- the methods a path answers ------------------------------------------------------------------
def test_a_405_names_every_method_of_the_path(api):
    """/sessions has GET and POST as separate routes: the router's own 405 named only one."""
    r = api.put("/sessions", json={})
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_options_answers_the_paths_methods_and_unknown_paths_404(api):
    r = api.options("/sessions")
    assert r.status_code == 204 and r.content == b""
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert api.options("/no/such/path").status_code == 404


def test_head_is_the_get_without_its_body(api):
    get, head = api.get("/datasets"), api.head("/datasets")
    assert get.status_code == head.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
