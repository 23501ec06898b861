"""What a request meets before any work: the key before the body is read or parsed, the Host and
Origin of a browser's request, and the methods a path answers."""

import pytest
from fastapi.testclient import TestClient

from vectrain.api.app import create_app

WRITE_KEY, READ_KEY = "w-" + "a" * 30, "r-" + "b" * 30


@pytest.fixture
def keyed(settings, store):
    keyed_settings = settings.model_copy(update={"api_keys": WRITE_KEY, "read_api_keys": READ_KEY})
    with TestClient(create_app(keyed_settings, store)) as client:
        yield client


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
