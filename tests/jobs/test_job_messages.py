"""A job that ends early says how many rows it stored (they stay), whatever ended it."""

import time

from tests.fixtures import clustered
from vectrain.core.errors import BadInput
from vectrain.jobs.runner import JobRunner
from vectrain.loaders.writer import DatasetWriter


def run_until_ended(runner, job, timeout=60):
    deadline = time.monotonic() + timeout
    while (now := runner.get(job["id"]))["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, now
        time.sleep(0.05)
    return now


def half_a_load(fail_with):
    def work(job_store, progress):
        vectors, _ = clustered(10_000, 8)
        writer = DatasetWriter(job_store, "half", 8, "features", total=20_000, progress=progress)
        for start in range(0, 10_000, 2_500):
            writer.write(ids=[f"r{i}" for i in range(start, start + 2_500)], vectors=vectors[start : start + 2_500])
        raise fail_with

    return work


def test_a_failed_load_says_how_many_rows_it_stored(store):
    runner = JobRunner(store)
    runner.start()
    try:
        job = runner.submit("load", "half", {}, half_a_load(BadInput("the file ends after row 10,000")), hint="Rerun.")
        ended = run_until_ended(runner, job)
        assert ended["state"] == "failed" and ended["stored"] == 10_000, ended
        assert "the file ends after row 10,000" in ended["error"]
        assert "It stored 10,000 rows, which stay (the dataset holds 10,000)" in ended["error"], ended["error"]
        job = runner.submit("load", "half", {}, half_a_load(RuntimeError("a bug")), hint="Rerun.")
        ended = run_until_ended(runner, job)
        assert "Internal error (RuntimeError: a bug)" in ended["error"]
        assert "It stored 0 rows" in ended["error"] and "holds 10,000" in ended["error"]  # every id was stored
    finally:
        runner.stop()
    assert store.registry.count_rows("half", fresh=True) == 10_000
