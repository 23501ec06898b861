"""A bounded property-based run of the OpenAPI schema against the real app on the real engine,
over every operation, without keys and with keys (a write key, a read key, none): no server
errors, every response conforms to the schema (status codes, content types, bodies), and
invalid requests are refused. Hypothesis generates valid and invalid requests for every operation.

Budget: EXAMPLES_PER_OPERATION examples per operation, generation mode and key mode (4 key modes
x 2 generation modes x about 35 operations x 8 = about 2,200 requests, under a minute on 2 cores
in parallel); each case is derandomized, so a run is reproducible."""

import uuid

import pytest
import schemathesis
from fastapi.testclient import TestClient
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

EXAMPLES_PER_OPERATION = 8
WRITE_KEY, READ_KEY = "w-" + "f" * 30, "r-" + "e" * 30
KEY_MODES = {"no keys": None, "write key": WRITE_KEY, "read key": READ_KEY, "keys, none sent": ""}


@pytest.fixture(scope="module")
def fuzz_store(engine_path):
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
    with TestClient(create_app(store.settings, store)) as client:
        client.post(
            "/labelsets", json={"name": "four", "labels": ["c0", "c1", "c2", "c3"], "vectors": vectors[:4].tolist()}
        )
        client.post("/sessions", json={"dataset": "toy", "name": "fuzz", "vector": vectors[0].tolist()})
    yield store
    store.command(store.dialect.drop_database(store.database))
    store.close()


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schemathesis.check
def invalid_data_is_refused(ctx, response, case):
    """negative_data_rejection, with 413 counted as a refusal: a request over a size limit (more
    texts, ids or vectors than the settings allow) is refused as too large, not as malformed."""
    if response.status_code == 413:
        return None
    return negative_data_rejection(ctx, response, case)


@pytest.mark.parametrize("keys", list(KEY_MODES))
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_responses_match_the_schema(fuzz_store, mode, keys):
    key = KEY_MODES[keys]
    app_settings = fuzz_store.settings
    if key is not None:
        app_settings = app_settings.model_copy(update={"api_keys": WRITE_KEY, "read_api_keys": READ_KEY})
    app = create_app(app_settings, fuzz_store)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checks = list(CHECKS)
    if mode == GenerationMode.NEGATIVE:
        checks.append(invalid_data_is_refused)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    requests = 0

    with TestClient(app):  # the app's lifespan (its job runner) for the whole run
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
                case.call_and_validate(checks=checks, headers=headers)

            try:
                run()
            except Unsatisfiable:  # nothing about this operation can be invalid (e.g. no parameters)
                assert mode == GenerationMode.NEGATIVE
    assert requests >= 3 * len(operations)
