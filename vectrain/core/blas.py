"""One BLAS thread, for numpy work that shares the machine with the engine (zero-shot's matmul
while chDB reads and inserts) or is too small to split (training fits). OpenBLAS's thread count
is one setting for the whole process, so the limit is counted: the first of overlapping users,
in any thread, sets it and the last one out restores what was there before. Limits nested per
user restore in the wrong order when two overlap, and leave the process at one thread for good."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_users = 0
_limiter = None
_controller = None


def _threadpools():
    global _controller
    if _controller is None:
        import scipy.optimize  # noqa: F401  (loads scipy's own OpenBLAS, so the controller sees it)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


def _in_control(change):
    """Run a change of the pool size as its one controller. threadpoolctl lets a single Python
    thread set OpenBLAS's pool size and silently ignores the others while that thread lives (a
    limit set by a long-lived worker left every other thread's ignored); the count above already
    serializes the changes, so each one takes control and gives it back."""
    controllers = {type(lib) for lib in _threadpools().lib_controllers}
    releases = [c.clear_controlling_thread for c in controllers if hasattr(c, "clear_controlling_thread")]
    for release in releases:
        release(force=True)
    try:
        return change()
    finally:
        for release in releases:
            release(force=True)


@contextmanager
def one_thread() -> Iterator[None]:
    global _users, _limiter
    with _lock:
        if _users == 0:
            _limiter = _in_control(lambda: _threadpools().limit(limits=1, user_api="blas"))
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                _in_control(_limiter.restore_original_limits)
                _limiter = None


def warm_up() -> None:
    """Load what the first limit needs (scipy, the controller), e.g. when a service starts."""
    with _lock:
        _threadpools()
