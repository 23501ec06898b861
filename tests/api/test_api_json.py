"""Request bodies are parsed by pydantic-core (vectrain.api.models.JSONRoute): the same values
json.loads gives, and json.loads's answer wherever pydantic-core refuses a body."""

import asyncio
import json

import numpy as np
import pytest

from vectrain.api.app import ROUTERS
from vectrain.api.models import JSONRoute, _JSONRequest


def parse(body: bytes):
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    request = _JSONRequest({"type": "http", "method": "POST", "headers": []}, receive)
    return asyncio.run(request.json())


def test_every_route_parses_json_fast():
    routes = [route for router in ROUTERS for route in router.routes]
    assert routes and all(isinstance(route, JSONRoute) for route in routes)


def test_floats_parse_exactly_as_json_loads():
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.normal(size=5000).astype(np.float32).astype(float),
            rng.normal(scale=1e-30, size=1000),
            rng.normal(scale=1e30, size=1000),
            [0.0, -0.0, 5e-324, 1.7976931348623157e308, 0.1, 1 / 3],
        ]
    )
    for body in (
        json.dumps(values.tolist()),
        json.dumps([float(np.float32(v)) for v in values if abs(v) < 3e38]),
        "[" + ",".join(f"{v:.9g}" for v in values) + "]",
        "[" + ",".join(f"{v:e}" for v in values) + "]",
    ):
        got, want = parse(body.encode()), json.loads(body)
        assert got == want and [repr(v) for v in got] == [repr(v) for v in want]


@pytest.mark.parametrize(
    "body",
    [
        b'"\\ud800"',
        b'\xef\xbb\xbf{"a": 1}',
        b'{"a": NaN, "b": Infinity}',
        b'{"a": 1, "a": 2}',
        b"123456789012345678901234567890",
        b'{"k": -9223372036854775809}',
    ],
)
def test_accepted_bodies_are_json_loads_values(body):
    assert repr(parse(body)) == repr(json.loads(body))


@pytest.mark.parametrize("body", [b"[1,]", b'{"a":1,}', b"01", b"tru", b'{"vector": [0.1,'])
def test_refused_bodies_raise_json_loads_error(body):
    with pytest.raises(json.JSONDecodeError) as ours:
        parse(body)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(body)
    assert (ours.value.msg, ours.value.pos) == (theirs.value.msg, theirs.value.pos)
