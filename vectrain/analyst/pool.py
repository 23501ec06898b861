"""The handles analysts' statements run on (vectrain.analyst.sql): at most a few at once, and a
handle that saw an error is never handed to anyone else."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from clickhouse_connect.driver.client import Client

from vectrain.analyst.check import Refused
from vectrain.core.errors import ServiceUnavailable, TooBusy


class Pool:
    """At most `size` engine handles; each is borrowed by one thread at a time, and one that saw
    an error is closed by that thread and never handed out again."""

    def __init__(self, factory: Callable[[], Client], size: int, wait_seconds: float, describe: Callable = str):
        """`describe`: an engine error as one clean line (what the caller shows of it)."""
        self._factory, self._describe = factory, describe
        self._size = max(1, int(size))
        self._wait = max(0.0, float(wait_seconds))
        self._idle: list[Client] = []
        self._open = 0  # idle + borrowed + being created
        self._cond = threading.Condition()
        self._closed = False

    @contextmanager
    def handle(self) -> Iterator[Client]:
        client = self._acquire()
        try:
            yield client
        except Refused:
            self._release(client, healthy=True)  # refused by the check: the engine saw no error
            raise
        except BaseException:
            self._release(client, healthy=False)
            raise
        self._release(client, healthy=True)

    def _acquire(self) -> Client:
        deadline = time.monotonic() + self._wait
        with self._cond:
            while True:
                if self._closed:
                    raise ServiceUnavailable("The SQL endpoint is shutting down.")
                if self._idle:
                    return self._idle.pop()
                if self._open < self._size:
                    self._open += 1  # a slot reserved for the handle created below
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TooBusy(
                        f"All {self._size} SQL slots are busy (VECTRAIN_SQL_POOL_SIZE); try again in a few seconds."
                    )
                self._cond.wait(left)
        try:
            return self._factory()
        except Exception as exc:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise ServiceUnavailable(f"Could not open a database handle for SQL: {self._describe(exc)}") from None

    def _release(self, client: Client, healthy: bool) -> None:
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(client)
                self._cond.notify()
                return
        # Only this thread holds the handle: closing it cannot disturb anyone else's query.
        try:
            client.close()
        except Exception:
            pass
        with self._cond:
            self._open -= 1
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for client in idle:
            try:
                client.close()
            except Exception:
                pass
