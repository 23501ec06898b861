"""Nothing from a request reaches the network: CLIP weights named by a hub id are read from the
local cache only, unless VECTRAIN_ALLOW_MODEL_DOWNLOAD is set; without them a request fails at
once, naming the setting. A local directory always works."""

import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vectrain.core.config import Settings
from vectrain.embed.encoders import ModelUnavailable, check_model_available, get_encoder

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import time
import torch, transformers  # imported first: the time below is the load's alone
from vectrain.core.config import Settings
from vectrain.embed.encoders import get_encoder
started = time.monotonic()
try:
    get_encoder("clip", Settings(clip_model="openai/clip-vit-base-patch32"))
except Exception as exc:
    print(type(exc).__name__, round(time.monotonic() - started, 1), getattr(exc, "message", exc))
"""


@pytest.fixture
def hub():
    """A local stand-in for the model hub that records every request (HF_ENDPOINT points at it)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def load_clip_in_a_fresh_process(endpoint: str, cache: Path, allow: bool) -> str:
    env = {
        **os.environ,
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(cache),
        "VECTRAIN_ALLOW_MODEL_DOWNLOAD": "true" if allow else "false",
        "HF_HUB_ETAG_TIMEOUT": "2",
        "HF_HUB_DOWNLOAD_TIMEOUT": "2",
    }
    env.pop("HF_HUB_OFFLINE", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    return done.stdout.strip() + done.stderr[-500:]


def test_a_hub_model_is_never_fetched_unless_allowed(hub, tmp_path):
    url, hits = hub
    out = load_clip_in_a_fresh_process(url, tmp_path / "hf", allow=False)
    assert out.startswith("ModelUnavailable"), out
    assert "VECTRAIN_ALLOW_MODEL_DOWNLOAD" in out
    # At once: the hub library retried an unreachable hub for 30-40 s; 15 s leaves room for a busy machine.
    assert float(out.split()[1]) < 15
    assert hits == []
    out = load_clip_in_a_fresh_process(url, tmp_path / "hf", allow=True)  # allowed: it asks the hub
    assert out.startswith("ModelUnavailable"), out
    assert hits, "with the setting on, the hub is asked for the weights"


def test_a_load_request_needing_missing_weights_is_503_at_once(api, store, tmp_path):
    store.settings.clip_model = "vectrain-tests/not-in-any-cache"
    store.settings.load_roots = str(tmp_path)
    (tmp_path / "photos").mkdir()
    started = time.monotonic()
    r = api.post("/datasets/pics/load", data={"source": "images", "path": "photos", "encoder": "clip"})
    assert r.status_code == 503 and r.json()["code"] == "model_unavailable", r.text
    assert "VECTRAIN_ALLOW_MODEL_DOWNLOAD" in r.json()["detail"]
    assert time.monotonic() - started < 15  # at once (a hub fetch retried for 30-40 s)
    assert api.get("/jobs").json() == []


def test_a_local_directory_needs_no_setting(tiny_clip):
    settings = Settings(clip_model=str(tiny_clip))
    assert not settings.allow_model_download
    check_model_available(str(tiny_clip), settings)
    assert get_encoder("clip", settings).dim > 0
    with pytest.raises(ModelUnavailable, match="VECTRAIN_ALLOW_MODEL_DOWNLOAD"):
        check_model_available("vectrain-tests/not-in-any-cache", settings)
