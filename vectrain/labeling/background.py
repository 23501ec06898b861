"""One worker thread per process for work a person should not wait for (a round's estimate).

Per (store, session) only the newest round asked for is kept: a round queued behind a newer one
of the same session is skipped, since the newer one supersedes it. Failures are logged: the work
is derived from stored rows and is asked for again by the next reader that misses it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

_lock = threading.Condition()
_wanted: dict[tuple[int, str], tuple[object, int, Callable]] = {}  # key -> (store, round, work)
_running: set[tuple[int, str]] = set()
_outstanding = 0
_executor: ThreadPoolExecutor | None = None


def submit(store, session_id: str, round_no: int, work: Callable[[object, str, int], None]) -> None:
    """Run work(store, session_id, round_no) on the worker, unless a newer round is queued."""
    global _executor, _outstanding
    key = (id(store), session_id)
    with _lock:
        queued = _wanted.get(key)
        if queued is not None:
            if queued[1] < round_no:
                _wanted[key] = (store, round_no, work)
            return
        _wanted[key] = (store, round_no, work)
        _outstanding += 1
        if _executor is None:
            _executor = ThreadPoolExecutor(1, thread_name_prefix="vectrain-background")
        _executor.submit(_run, key)


def _run(key) -> None:
    global _outstanding
    with _lock:
        store, round_no, work = _wanted.pop(key)
        _running.add(key)
    try:
        work(store, key[1], round_no)
    except Exception:  # derived work: logged, and asked for again by the next reader that misses it
        log.exception("background work for session %s, round %s failed", key[1], round_no)
    finally:
        with _lock:
            _running.discard(key)
            _outstanding -= 1
            _lock.notify_all()


def busy(store, session_id: str) -> bool:
    """Whether work for this session is queued or running."""
    key = (id(store), session_id)
    with _lock:
        return key in _wanted or key in _running


def settle(timeout: float | None = None) -> bool:
    """Wait until nothing is queued or running; False if `timeout` seconds pass first."""
    with _lock:
        return _lock.wait_for(lambda: _outstanding == 0, timeout)
