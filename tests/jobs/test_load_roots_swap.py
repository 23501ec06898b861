"""A file or folder under a load root swapped for a symlink between the request and its job: the
job reads what is checked on the open descriptor, never what the symlink leads to."""

import os
import threading

import pytest

from tests.image_folder import write_images
from tests.jobs import test_jobs
from tests.jobs.test_jobs import wait, write_npz
from vectrain.core.errors import Forbidden
from vectrain.core.files import open_inside
from vectrain.jobs import loads
from vectrain.jobs.runner import Progress

root, service = test_jobs.root, test_jobs.service  # the service and its load root, as test_jobs sets them up


class _Runner:
    """What a job's Progress reports to: the runner, for work run here in the test."""

    _lock = threading.Lock()

    def _progress(self, job, done, total):
        pass


class _Job:
    cancel_requested = False
    message = ""


def run(planned, store):
    """The planned job's work, run now (what a worker does when the job leaves the queue)."""
    with store.apart() as job_store:
        return planned.work(job_store, Progress(_Runner(), _Job()))


def plan(store, **req):
    return loads.plan(store, loads.LoadRequest(**req), trusted=False)


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    write_npz(folder / "secret.npz", n=40, prefix="secret")
    return folder


def test_a_file_swapped_for_a_symlink_after_the_check_is_not_read(store, settings, root, outside):
    settings.load_roots = str(root)
    write_npz(root / "swap.npz", n=30, prefix="mine")
    planned = plan(store, source="features", dataset="swapped", path="swap.npz")  # checked: inside the root
    os.remove(root / "swap.npz")
    os.symlink(outside / "secret.npz", root / "swap.npz")  # then swapped, while the job waits in the queue
    with pytest.raises(Forbidden, match="outside the folders"):
        run(planned, store)
    assert "swapped" not in [d["name"] for d in store.registry.list()]


def test_a_folder_swapped_for_a_symlink_after_the_check_is_not_read(store, settings, root, outside):
    settings.load_roots = str(root)
    (root / "sub").mkdir()
    write_npz(root / "sub" / "secret.npz", n=30, prefix="mine")
    planned = plan(store, source="features", dataset="swapped", path="sub/secret.npz")
    os.rename(root / "sub", root / "old")
    os.symlink(outside, root / "sub")  # the parent folder now leads outside
    with pytest.raises(Forbidden):
        run(planned, store)
    assert "swapped" not in [d["name"] for d in store.registry.list()]


def test_an_images_folder_swapped_after_the_check_is_not_read(store, settings, root, tmp_path):
    settings.load_roots = str(root)
    write_images(root / "photos")
    elsewhere = tmp_path / "elsewhere"
    write_images(elsewhere)
    planned = plan(store, source="images", dataset="pics", path="photos", encoder="pixels@size=8")
    os.rename(root / "photos", root / "old")
    os.symlink(elsewhere, root / "photos")
    with pytest.raises(Forbidden, match="outside the folders"):
        run(planned, store)
    assert "pics" not in [d["name"] for d in store.registry.list()]


def test_an_image_swapped_between_the_walk_and_the_read_is_not_read(settings, root, tmp_path):
    """The folder loader opens each file through the check: a file replaced by a symlink after the
    walk listed it is refused on its descriptor."""
    from vectrain.core.files import inside

    write_images(root / "photos")
    elsewhere = tmp_path / "elsewhere"
    write_images(elsewhere)
    target = root / "photos" / "train" / "cat" / "0.png"
    assert inside(target, [root])
    os.remove(target)
    os.symlink(elsewhere / "train" / "cat" / "0.png", target)
    with pytest.raises(Forbidden):
        open_inside(target, [root])
    with open_inside(target, None) as f:  # the CLI on this machine may follow it
        assert f.read(4) == b"\x89PNG"


def test_a_fifo_in_a_files_place_does_not_block(root):
    os.mkfifo(root / "pipe.npz")
    with pytest.raises(Exception, match="not a regular file"):
        open_inside(root / "pipe.npz", [root])


def test_through_the_service_the_swapped_file_fails_the_job(service, store, root, tmp_path):
    """The review's reproducer: the load queued behind busy workers, the file swapped meanwhile."""
    outside = tmp_path / "outside2"
    outside.mkdir()
    write_npz(outside / "secret.npz", n=40, prefix="secret")
    write_npz(root / "swap.npz", n=30, prefix="mine")
    runner, release = service.app_state.jobs, threading.Event()
    blockers = [
        runner.submit("load", f"busy{n}", {}, lambda job_store, progress: release.wait(30) and {})
        for n in range(runner.workers)
    ]
    r = service.post("/datasets/swapped/load", data={"source": "features", "path": "swap.npz"})
    assert r.status_code == 202 and r.json()["state"] == "queued"
    os.remove(root / "swap.npz")
    os.symlink(outside / "secret.npz", root / "swap.npz")
    release.set()
    job = wait(service, r.json()["id"])
    assert job["state"] == "failed" and "outside the folders" in job["error"], job
    assert "swapped" not in [d["name"] for d in store.registry.list()]
    assert all(wait(service, b["id"])["state"] == "done" for b in blockers)
