"""The counted BLAS limit (service.blas): overlapping users, in any thread and any order, hold the
process at one thread and leave it as they found it. Run in a fresh interpreter: OpenBLAS ignores
a limit set from a worker thread once the main thread has set one, which other tests may have."""

import subprocess
import sys

SCENARIO = r"""
import threading
from threadpoolctl import threadpool_info
from service import blas

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
