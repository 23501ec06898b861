"""A wheel of this checkout, installed (not editable) where the checkout is not on the path, runs
from an empty folder: it loads the demo, serves the page and a session's next batch, keeps its
database in the user's data folder, and writes nothing into the installed package."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what the Dockerfile copies (no build/ leftovers from the checkout can
    # slip in); --no-build-isolation: this environment's setuptools, no network.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "vectrain", source / "vectrain", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
    )
    (found,) = out.glob("vectrain-*.whl")
    return found


def test_the_wheel_holds_one_package_with_its_sql_and_page(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"vectrain"}, top
    for suffix in (".sql", ".html", ".js", ".css"):
        shipped = {n for n in names if n.endswith(suffix)}
        in_tree = {str(p.relative_to(ROOT)) for p in (ROOT / "vectrain").rglob(f"*{suffix}")}
        assert in_tree and shipped == in_tree, (suffix, in_tree ^ shipped)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_installed_wheel_runs_from_an_empty_folder(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    empty, home = tmp_path / "empty", tmp_path / "home"
    empty.mkdir()
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECTRAIN_")}
    # The checkout is not on the path: only the installed copy (and this environment's dependencies).
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1", HOME=str(home), XDG_DATA_HOME=str(home / "data"))
    before = _snapshot(site)

    def vectrain(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "vectrain", *args],
            cwd=empty,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            **kwargs,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import vectrain; print(vectrain.__file__)"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(site)), where
    loaded = vectrain("load", "demo")
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert (home / "data" / "vectrain" / "db").is_dir(), "the default database is not in the user's data folder"

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "vectrain", "serve", "--port", str(port)],
        cwd=empty,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and "<title>vectrain</title>" in page.text
        for asset in ("app.js", "views/label.js", "style.css"):
            assert httpx.get(f"{url}/static/{asset}").status_code == 200, asset
        created = httpx.post(
            f"{url}/sessions", json={"dataset": "digits", "name": "zeros", "positive_ids": ["digit-0000", "digit-0010"]}
        )
        assert created.status_code == 201, created.text
        batch = httpx.post(f"{url}/sessions/{created.json()['id']}/next", json={"k": 10})
        assert batch.status_code == 200, batch.text
        assert len(batch.json()["items"]) == 10
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert list(empty.iterdir()) == [], "running it wrote into the working folder"
    assert _snapshot(site) == before, "running it wrote into the installed package"
