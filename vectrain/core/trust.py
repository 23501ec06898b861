"""How the service knows a request comes from the CLI on its own machine, run by its own user.

Such a request may name any file the service's user can read (`vectrain load images NAME ~/photos`);
any other client may name only paths under VECTRAIN_LOAD_ROOTS. Being on loopback proves
nothing: a web page open in a browser on the same machine sends loopback requests too.

So `vectrain serve` makes a random secret when it opens the embedded database and writes it
next to the owner file (`<chDB path>/vectrain.local-secret`), readable only by its user (mode
0600). The CLI reads that file and sends the secret in the `X-Vectrain-Local` header, and only
to the service the owner file names (never to a `--url` elsewhere). Whoever can read the file
can already read the database directory, so the secret grants nothing that user lacks. The
service compares it in constant time; API keys are still required on top of it.

On a ClickHouse server (no chDB path) no secret is written, and the CLI is a client like any
other: paths under the load roots, or an uploaded features file.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

SECRET_FILE = "vectrain.local-secret"
HEADER = "X-Vectrain-Local"


def write_secret(data_path: str) -> str:
    """A new secret for this serving process, written 0600 next to the owner file (`vectrain
    serve` removes it when it stops; one left by a killed process is replaced by the next)."""
    secret = secrets.token_urlsafe(32)
    path = Path(data_path) / SECRET_FILE
    try:
        path.unlink()  # a file left by a process that died; recreated below with our mode
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def read_secret(data_path: str) -> str | None:
    """The serving process's secret, when this user may read it."""
    try:
        fd = os.open(Path(data_path) / SECRET_FILE, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd) as handle:
        return handle.read(256).strip() or None


def remove_secret(data_path: str, secret: str) -> None:
    """Remove the file if it still holds this process's secret."""
    path = Path(data_path) / SECRET_FILE
    if read_secret(data_path) == secret:
        try:
            path.unlink()
        except OSError:
            pass


def is_local(presented: str | None, secret: str | None) -> bool:
    if not presented or not secret:
        return False
    return hmac.compare_digest(presented.encode(), secret.encode())
