"""`vectrain serve` in a process of its own, on a free loopback port, for the load benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: str | Path, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Serve the chDB database at `path` without API keys; returns the process and its URL once
    /health answers."""
    port = free_port()
    env = {**os.environ, "VECTRAIN_DATABASE_URL": f"chdb://{path}", "VECTRAIN_SERVICE_URL": "",
           "VECTRAIN_API_KEYS": "", "VECTRAIN_READ_API_KEYS": ""}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli.main", "serve", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("vectrain serve did not start")


class Served:
    """An ASGI app on a real uvicorn server in a thread of this process, and one keep-alive HTTP
    connection to it: what a client over loopback sees, and the app still shares this process's
    chDB engine (one process per path) with the bare queries it is compared with. The methods
    answer like TestClient's (`status_code`, `json()`, `text`)."""

    def __init__(self, app):
        import threading

        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="bench-uvicorn", daemon=True)

    def __enter__(self) -> "Served":
        import http.client

        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise SystemExit("the in-process uvicorn server did not start")
            time.sleep(0.05)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3600)
        return self

    def __exit__(self, *exc) -> None:
        self.conn.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def request(self, method: str, path: str, json_body=None) -> "_Answer":
        import json

        body = None if json_body is None else json.dumps(json_body)
        self.conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return _Answer(response.status, response.read())

    def get(self, path: str) -> "_Answer":
        return self.request("GET", path)

    def post(self, path: str, json=None) -> "_Answer":
        return self.request("POST", path, json)

    def delete(self, path: str) -> "_Answer":
        return self.request("DELETE", path)


class _Answer:
    def __init__(self, status_code: int, body: bytes):
        self.status_code, self.content = status_code, body

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self):
        import json

        return json.loads(self.content)


def http_floor_app():
    """A FastAPI app with a search-shaped endpoint that does no work (the service's request and
    response models, a sync endpoint as the service's): the cost of HTTP, JSON and validation
    alone on this machine, measured next to the service's search."""
    from fastapi import FastAPI

    from service.api.datasets import SearchRequest, SearchResponse

    app = FastAPI()
    items = [{"id": f"item-{i:07d}", "url": f"https://example.org/{i}.jpg", "label": "", "score": 0.5}
             for i in range(10)]

    @app.post("/search", response_model=SearchResponse)
    def search(body: SearchRequest):
        return SearchResponse(items=items[:body.k], plan="none", seconds=0.0)

    return app
