"""Reading a file a request named, without a window between the check and the read.

A path is checked when the request arrives (vectrain.jobs.load_paths) and read when its job runs,
maybe minutes later: by then a file under a load root may have been swapped for a symlink to
anything else. So a remote client's file is opened once, and what was opened is checked on the
open descriptor (the kernel's path of the descriptor must be inside the roots, and it must be a
regular file); the read goes through that descriptor, whatever the path names afterwards.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from vectrain.core.errors import BadInput, Forbidden


def inside(path: str | Path, roots: Sequence[Path]) -> bool:
    """Whether a path, symlinks and `..` resolved, is one of `roots` or under one."""
    real = Path(os.path.realpath(path))
    return any(real == root or root in real.parents for root in roots)


def open_inside(path: str | Path, roots: Sequence[Path] | None, what: str = "file") -> BinaryIO:
    """`path` opened for reading. With `roots` (a remote client's load), the file opened must be a
    regular file inside them, checked on the descriptor itself: Forbidden otherwise. Without
    (the CLI on this machine), any file its user can read."""
    if roots is None:
        return open(path, "rb")
    try:  # O_NONBLOCK: a FIFO put in the file's place must not block the open
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise BadInput(f"{what} {Path(path).name!r}: no such file (it was there when the load was asked)") from None
    except OSError as exc:
        raise BadInput(f"{what} {Path(path).name!r} cannot be opened ({exc.strerror})") from None
    try:
        opened = _descriptor_path(fd, path)
        if not any(opened == root or root in opened.parents for root in roots):
            raise Forbidden(
                f"{what} {Path(path).name!r} now leads outside the folders this service loads from "
                "(VECTRAIN_LOAD_ROOTS): it was replaced after the load was asked. Nothing was read from it."
            )
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BadInput(f"{what} {Path(path).name!r} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _descriptor_path(fd: int, path: str | Path) -> Path:
    """The path the kernel holds for an open descriptor."""
    if sys.platform.startswith("linux"):
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    if sys.platform == "darwin":  # pragma: no cover - not the CI's platform
        import fcntl

        raw = fcntl.fcntl(fd, 50, b"\0" * 1024)  # F_GETPATH
        return Path(raw.split(b"\0", 1)[0].decode())
    # Elsewhere: the resolved path, and the descriptor must be that very file.
    real = Path(os.path.realpath(path))  # pragma: no cover
    if os.path.samestat(os.fstat(fd), os.stat(real)):  # pragma: no cover
        return real
    raise Forbidden(f"{Path(path).name!r} changed while it was opened")  # pragma: no cover
