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
