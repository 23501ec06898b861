"""Serving the app for benchmarks and end-to-end tests: `vectrain serve` in a process of its own
(`start_server`, `wait_healthy`), or the app on uvicorn in a thread of this process
(`LiveServer`; `Served` adds a client in a process of its own, bench.client)."""

# No `from __future__ import annotations`: FastAPI resolves the floor endpoint's annotations at
# run time, and a string annotation naming a local import would turn its body into a query parameter.

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen, url: str, timeout: float) -> None:
    """Until `GET {url}/health` answers 200. If the process exits first: RuntimeError with its
    stderr (when piped); after `timeout` seconds it is killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(
                f"vectrain serve exited ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}"
            )
    proc.kill()
    raise RuntimeError(f"vectrain serve did not answer {url}/health within {timeout:.0f} s")


def start_server(path: str | Path, timeout: float = 120.0, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Serve the chDB database at `path` without API keys (and with `env`'s settings); returns
    the process and its URL once /health answers."""
    port = free_port()
    env = {
        **os.environ,
        "VECTRAIN_DATABASE_URL": f"chdb://{path}",
        "VECTRAIN_SERVICE_URL": "",
        "VECTRAIN_API_KEYS": "",
        "VECTRAIN_READ_API_KEYS": "",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "vectrain.cli.main", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(proc, url, timeout)
    return proc, url


class LiveServer:
    """uvicorn serving an ASGI app in a thread of this process, on a loopback socket bound before
    it starts (no race for the port). The app shares this process's chDB engine (one process per
    path) with whatever else the process runs."""

    def __init__(self, app, timeout: float = 120.0):
        import uvicorn

        # IPPROTO_TCP named: asyncio turns Nagle off only on sockets whose proto says TCP, and the
        # accepted ones inherit it (with proto 0 every response waits ~40 ms on a delayed ACK).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.timeout = timeout
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + self.timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the in-process uvicorn server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


class Served(LiveServer):
    """A LiveServer and a client in a process of its own (bench.client) holding one keep-alive
    connection to it: what a frontend over loopback sees. The methods answer like TestClient's
    (`status_code`, `json()`, `text`), plus `seconds`: the client's own time for the request."""

    def __enter__(self) -> "Served":
        super().__enter__()
        self.client = subprocess.Popen(
            [sys.executable, "-m", "bench.client", str(self.port)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        return self

    def __exit__(self, *exc) -> None:
        self.client.stdin.close()
        self.client.wait(timeout=30)
        super().__exit__(*exc)

    def request(self, method: str, path: str, json_body=None) -> "_Answer":
        import json

        body = b"" if json_body is None else json.dumps(json_body).encode()
        self.client.stdin.write(
            json.dumps({"method": method, "path": path, "length": len(body)}).encode() + b"\n" + body
        )
        self.client.stdin.flush()
        line = self.client.stdout.readline()
        if not line:
            raise RuntimeError(f"the benchmark client exited ({self.client.poll()})")
        head = json.loads(line)
        return _Answer(head["status"], self.client.stdout.read(head["length"]), head["seconds"])

    def get(self, path: str) -> "_Answer":
        return self.request("GET", path)

    def post(self, path: str, json=None) -> "_Answer":
        return self.request("POST", path, json)

    def delete(self, path: str) -> "_Answer":
        return self.request("DELETE", path)


class _Answer:
    def __init__(self, status_code: int, body: bytes, seconds: float):
        self.status_code, self.content, self.seconds = status_code, body, seconds

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

    from vectrain.api.datasets import SearchRequest, SearchResponse

    app = FastAPI()
    items = [
        {"id": f"item-{i:07d}", "url": f"https://example.org/{i}.jpg", "label": "", "score": 0.5} for i in range(10)
    ]

    @app.post("/search", response_model=SearchResponse)
    def search(body: SearchRequest):
        return SearchResponse(items=items[: body.k], plan="none", seconds=0.0)

    return app
