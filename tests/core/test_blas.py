"""The counted BLAS limit (vectrain.core.blas): overlapping users, in any thread and any order, hold the
process at one thread and leave it as they found it. Run in a fresh interpreter: the scenario
starts from the pool size the process started with."""

import subprocess
import sys

SCENARIO = r"""
import threading
from threadpoolctl import threadpool_info
from vectrain.core import blas

def count():
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

blas.warm_up()
before = count()
assert before and before != {1}, before  # more than one thread to begin with (2 cores here)

# two users overlapping in two threads; the first in is not the last out
first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
seen = {}

def first():
    with blas.one_thread():
        first_in.set()
        second_in.wait()
    first_out.set()

def second():
    first_in.wait()
    with blas.one_thread():
        second_in.set()
        first_out.wait()
        seen["after the first left"] = count()

threads = [threading.Thread(target=first), threading.Thread(target=second)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert seen["after the first left"] == {1}, seen
assert count() == before, count()

# a thread that set a limit and lives on (a pool's worker) does not lock the others out
worker_done, main_done = threading.Event(), threading.Event()

def long_lived():
    with blas.one_thread():
        pass
    worker_done.set()
    main_done.wait()

worker = threading.Thread(target=long_lived)
worker.start()
worker_done.wait()
with blas.one_thread():
    assert count() == {1}, count()
assert count() == before, count()
main_done.set()
worker.join()

# one user after another, each in a thread of its own
for _ in range(3):
    inside = []
    def user():
        with blas.one_thread():
            inside.append(count())
    t = threading.Thread(target=user)
    t.start()
    t.join()
    assert inside == [{1}] and count() == before, (inside, count())
print("ok")
"""


def test_counted_limit_across_threads():
    done = subprocess.run([sys.executable, "-c", SCENARIO], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
