"""A bounded property-based run of the OpenAPI schema against the real app on the real engine:
no server errors, and every response conforms to the schema (status codes, content types,
bodies). Hypothesis generates valid and invalid requests for every operation."""

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.checks import negative_data_rejection

from vectrain.api.app import create_app
from vectrain.core.config import Settings
from vectrain.storage.store import Store

EXAMPLES_PER_OPERATION = 8  # about 30 operations x 2 modes: a few hundred requests


@pytest.fixture(scope="module")
def fuzz_app(engine_path):
    """One database with a dataset, a label set and a session, so requests can reach real rows."""
    from tests.fixtures import clustered
    from vectrain.loaders.writer import DatasetWriter

    store = Store(
        Settings(
            database_url=f"chdb://{engine_path}",
            database=f"fuzz_{uuid.uuid4().hex[:8]}",
            batch_time_budget=5.0,
            allowed_hosts="testserver",
        ),
        owner="pytest",
    )
    store.migrate()
    vectors, labels = clustered(300, 16, 4)
    writer = DatasetWriter(store, "toy", 16, "features", progress=False)
    writer.write(
        ids=[f"item-{i:03d}" for i in range(300)],
        vectors=vectors,
        labels=[f"c{x}" for x in labels],
        splits=["test" if i % 5 == 0 else "train" for i in range(300)],
    )
    writer.finish()
    app = create_app(store.settings, store)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        client.post(
            "/labelsets", json={"name": "four", "labels": ["c0", "c1", "c2", "c3"], "vectors": vectors[:4].tolist()}
        )
        client.post("/sessions", json={"dataset": "toy", "name": "fuzz", "vector": vectors[0].tolist()})
        yield app
    store.command(store.dialect.drop_database(store.database))
    store.close()


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_responses_match_the_schema(fuzz_app, mode):
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    checks = CHECKS + ([negative_data_rejection] if mode == GenerationMode.NEGATIVE else [])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    requests = 0

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            nonlocal requests
            requests += 1
            case.call_and_validate(checks=checks)

        try:
            run()
        except Unsatisfiable:  # nothing about this operation can be invalid (e.g. no parameters)
            assert mode == GenerationMode.NEGATIVE
    assert requests >= 3 * len(operations)
