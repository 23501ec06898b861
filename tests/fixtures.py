"""Shared fixtures and helpers: the real embedded engine (chDB) on a temp path, one database per test.

chDB allows one data path per process, so the whole run shares one temp path and every test
gets its own ClickHouse database in it (dropped afterwards).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from vectrain.api.app import create_app
from vectrain.core.config import Settings
from vectrain.loaders.cifar_archive import write_archive
from vectrain.storage.store import Store

TEST_HOST = "testserver"  # the Host of TestClient's requests
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def engine_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("chdb")


def new_settings(engine_path) -> Settings:
    # ann_min_rows=0: the tests' small tables are searched through the index, which is what they test
    # (test_search checks that the default scans small tables instead).
    # allowed_hosts: TestClient's requests say `Host: testserver` (the service answers loopback names only).
    return Settings(
        database_url=f"chdb://{engine_path}",
        database=f"t_{uuid.uuid4().hex[:12]}",
        ann_min_rows=0,
        allowed_hosts=TEST_HOST,
    )


_TEMPLATE: dict[str, tuple[str, list[str]]] = {}  # engine path -> (migrated database, its tables)


def open_store(settings: Settings) -> Store:
    """A store on a fresh database with the schema: the first one per process is migrated by
    Store.migrate (sql/schema), every later one copies that database's tables (CREATE TABLE AS,
    settings included) and its schema_migrations rows, which costs a third of the migration."""
    s = Store(settings, owner="pytest")
    key = settings.database_url
    if key not in _TEMPLATE:
        template = Store(settings.model_copy(update={"database": f"t_schema_{uuid.uuid4().hex[:8]}"}), owner="pytest")
        template.migrate()
        tables = [
            r[0]
            for r in template.client.query(
                "SELECT name FROM system.tables WHERE database = {d:String} ORDER BY name",
                parameters={"d": template.database},
            ).result_rows
        ]
        _TEMPLATE[key] = (template.database, tables)
    source, tables = _TEMPLATE[key]
    s.client.command(f"CREATE DATABASE IF NOT EXISTS `{s.database}`")
    for table in tables:
        s.client.command(f"CREATE TABLE `{s.database}`.`{table}` AS `{source}`.`{table}`")
    s.client.command(f"INSERT INTO `{s.database}`.schema_migrations SELECT * FROM `{source}`.schema_migrations")
    assert s.migrate() == []  # nothing left to apply: the copy is the schema
    return s


def drop_store(s: Store) -> None:
    from vectrain.labeling import background

    background.settle(60)  # a round's estimate still being computed on this store
    s.command(s.dialect.drop_database(s.database))
    s.close()


@pytest.fixture
def settings(engine_path) -> Settings:
    return new_settings(engine_path)


@pytest.fixture
def store(settings):
    s = open_store(settings)
    yield s
    drop_store(s)


WRITE_KEY, READ_KEY = "w-" + "a" * 30, "r-" + "b" * 30  # the keys of `keyed`


@pytest.fixture
def keyed(settings, store) -> TestClient:
    """The test's store behind an app that needs keys (WRITE_KEY, READ_KEY)."""
    keyed_settings = settings.model_copy(update={"api_keys": WRITE_KEY, "read_api_keys": READ_KEY})
    with TestClient(create_app(keyed_settings, store)) as client:
        yield client


@pytest.fixture
def api(settings, store) -> TestClient:
    with TestClient(create_app(settings, store)) as client:
        yield client


def clustered(n: int, dim: int, clusters: int = 10, noise: float = 0.3, seed: int = 0):
    """Unit vectors in separated clusters, with their cluster labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, size=n)
    vectors = centers[labels] + noise * rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), labels


def load_toy(store, name: str = "toy", n: int = 500, dim: int = 16, clusters: int = 5, seed: int = 0, splits=None):
    """Load n clustered vectors as a dataset through the real writer; returns (vectors, labels, ids)."""
    from vectrain.loaders.writer import DatasetWriter

    vectors, labels = clustered(n, dim, clusters, seed=seed)
    ids = [f"item-{i:05d}" for i in range(n)]
    writer = DatasetWriter(store, name, dim, "features", total=n, progress=False)
    writer.write(
        ids=ids,
        vectors=vectors,
        labels=[f"c{l}" for l in labels],
        urls=[f"https://example.test/{i}" for i in ids],
        splits=splits if splits is not None else ["train" if i % 5 else "test" for i in range(n)],
    )
    writer.finish()
    return vectors, labels, ids


@pytest.fixture
def make_dataset(store):
    """load_toy into this test's own database."""
    return lambda *args, **kwargs: load_toy(store, *args, **kwargs)


# -- shared, read-only ---------------------------------------------------------------------------
# One database with the default toy dataset (indexed) and a client on it, built once per run, for
# the many tests that only read (datasette's app_client fixtures are the model). A test that
# writes, changes settings or needs other data takes `store`/`api`/`make_dataset` instead.
@pytest.fixture(scope="session")
def _shared(engine_path):
    s = open_store(new_settings(engine_path))
    toy = load_toy(s)
    yield s, toy
    drop_store(s)


@pytest.fixture(scope="session")
def shared_store(_shared) -> Store:
    return _shared[0]


@pytest.fixture(scope="session")
def shared_toy(_shared):
    """(vectors, labels, ids) of the shared store's `toy` dataset."""
    return _shared[1]


@pytest.fixture(scope="session")
def shared_api(shared_store) -> TestClient:
    with TestClient(create_app(shared_store.settings, shared_store)) as client:
        yield client


def exact_topk(vectors: np.ndarray, q: np.ndarray, k: int, exclude=()) -> list[int]:
    """numpy reference: indices of the k highest cosine similarities, excluding some."""
    q = q / np.linalg.norm(q)
    scores = vectors @ q
    scores[list(exclude)] = -np.inf
    return list(np.argsort(-scores, kind="stable")[:k])


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """A tiny random CLIP saved with save_pretrained (built once per run, shared by the xdist
    workers under a file lock); point settings.clip_model at it to load it through the same
    from_pretrained path as the real one."""
    from tests.tiny_clip import build_tiny_clip

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's directory, above each worker's own
    folder = root / "tiny_clip"
    with open(root / "tiny_clip.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "built").exists():
            build_tiny_clip(folder)
            (folder / "built").touch()
    return folder


@pytest.fixture
def clip_store(store, tiny_clip):
    """The test store with settings.clip_model pointing at the tiny CLIP."""
    store.settings.clip_model = str(tiny_clip)
    return store


NAMES10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar10_files(tmp_path, n_train=50, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    splits = {
        "train": (rng.integers(0, 256, (n_train, 3072), dtype=np.uint8), rng.integers(0, 10, n_train)),
        "test": (rng.integers(0, 256, (n_test, 3072), dtype=np.uint8), rng.integers(0, 10, n_test)),
    }
    return write_archive(tmp_path / "cifar-10-python.tar.gz", "cifar10", splits, NAMES10), splits
