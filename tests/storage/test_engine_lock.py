"""chDB allows one process per data path: a second process gets one clear line, not a trace."""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(args, env_extra):
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "vectrain.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_second_process_gets_one_clear_line(store, engine_path):
    # This test process holds engine_path (the store fixture opened it).
    result = run_cli(["datasets"], {"VECTRAIN_DATABASE_URL": f"chdb://{engine_path}", "VECTRAIN_SERVICE_URL": ""})
    assert result.returncode != 0
    err = result.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert f"The database at {engine_path} is in use by process {os.getpid()} (pytest)" in err
    assert "chDB allows one process per path" in err


def test_lock_message_names_the_serving_process(store, engine_path):
    # What `vectrain serve` records when it opens the path: the CLI then sends requests there.
    import json

    from vectrain.storage.engine import describe_owner as _describe_owner
    from vectrain.storage.engine import lock_holder_url

    owner = Path(engine_path) / "vectrain.owner.json"
    saved = owner.read_text()
    with socket.socket() as s:  # a port nothing listens on (other tests and services may use fixed ones)
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    try:
        owner.write_text(json.dumps({"pid": os.getpid(), "command": "vectrain serve", "url": url}))
        assert lock_holder_url(str(engine_path)) == url
        assert _describe_owner(str(engine_path)) == f"process {os.getpid()} (vectrain serve at {url})"
        result = run_cli(["datasets"], {"VECTRAIN_DATABASE_URL": f"chdb://{engine_path}", "VECTRAIN_SERVICE_URL": ""})
        assert "sending the request there" in result.stderr
        assert f"Cannot reach the vectrain service at {url}" in result.stderr
    finally:
        owner.write_text(saved)


def test_bad_database_url_is_one_line(tmp_path):
    result = run_cli(["datasets"], {"VECTRAIN_DATABASE_URL": "chdb://relative/path", "VECTRAIN_SERVICE_URL": ""})
    assert result.returncode != 0
    assert "chdb:///<absolute path>" in result.stderr and "Traceback" not in result.stderr
