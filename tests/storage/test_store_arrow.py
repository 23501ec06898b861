"""Arrow reads on the embedded engine go straight to chDB (vectrain.storage.engine.ArrowReader), not
through clickhouse-connect: the same tables, the same binding of parameters, typed errors."""

import gc

import pyarrow as pa
import pytest

from vectrain.core.errors import EngineError, TooLarge
from vectrain.core.names import items_table
from vectrain.storage.engine import ArrowReader
from vectrain.storage.itemvectors import BULK_READ
from vectrain.storage.query import Floats, Query, Strings

HOSTILE = [
    "plain",
    "it's",
    "back\\slash",
    "tab\there",
    "new\nline",
    "`tick`",
    "{q:String}",
    "'; DROP TABLE x; --",
    "ü 😀",
]


def test_parameters_are_bound_as_clickhouse_connect_binds_them(shared_store):
    q = Query(
        "SELECT {s:String} AS s, {many:Array(String)} AS many, {v:Array(Float32)} AS v, {n:Int64} AS n",
        {"s": HOSTILE[5], "many": Strings(HOSTILE), "v": Floats([0.1, -2.5e-8, 3.0]), "n": -7},
    )
    assert shared_store.arrow is not None  # the embedded engine: the direct path
    direct = shared_store.query_arrow(q)
    assert direct.to_pylist() == [{"s": HOSTILE[5], "many": HOSTILE, "v": pytest.approx([0.1, -2.5e-8, 3.0]), "n": -7}]
    assert direct.to_pylist() == shared_store._run(shared_store.client.query_arrow, q).to_pylist()


def test_vectors_read_the_same_table_as_clickhouse_connect(shared_store):
    q = Query.named("classify.all_vectors", db=shared_store.database, items=items_table("toy"))
    direct = shared_store.query_arrow(q)
    through_client = shared_store._run(shared_store.client.query_arrow, q)
    assert direct.num_rows == 500
    assert direct.schema.field("vector").type == through_client.schema.field("vector").type
    assert direct.column("id").to_pylist() == [str(x) for x in through_client.column("id").to_pylist()]
    assert direct.column("vector").to_pylist() == through_client.column("vector").to_pylist()


def test_settings_apply_to_the_read(shared_store):
    q = Query(
        "SELECT getSetting('max_block_size') AS b, getSetting('output_format_arrow_compression_method') AS c",
        {},
        {"max_block_size": 1234, "output_format_arrow_compression_method": "none"},
    )
    assert shared_store.query_arrow(q).to_pylist() == [{"b": 1234, "c": "none"}]
    with pytest.raises(ValueError, match="not a setting name"):
        shared_store.query_arrow(Query("SELECT 1", {}, {"max_threads = 1, readonly": 0}))


def test_engine_errors_are_typed(shared_store):
    with pytest.raises(EngineError) as failed:
        shared_store.query_arrow(Query("SELECT * FROM no_such_table_here", {}, name="a test read"))
    assert failed.value.fields["engine_code"] == 60 and "a test read" in str(failed.value)
    with pytest.raises(TooLarge):
        shared_store.query_arrow(
            Query(
                "SELECT number FROM system.numbers LIMIT 100000",
                {},
                {"max_result_rows": 10, "result_overflow_mode": "throw"},
            )
        )
    assert shared_store.query_arrow(Query("SELECT 1 AS one", {})).to_pylist() == [{"one": 1}]  # still usable


def test_apart_reads_on_a_reader_of_its_own(shared_store):
    q = Query(
        "SELECT count() AS n FROM {db:Identifier}.{t:Identifier}",
        {"db": shared_store.database, "t": items_table("toy")},
    )
    with shared_store.apart() as other:
        assert other.arrow is not shared_store.arrow
        assert other.query_arrow(q).to_pylist() == [{"n": 500}]
    assert shared_store.query_arrow(q).to_pylist() == [{"n": 500}]


def test_reader_selects_the_database(shared_store, engine_path):
    reader = ArrowReader(str(engine_path), shared_store.database)
    try:
        table = reader.query("SELECT currentDatabase() AS db", {}, {})
        assert isinstance(table, pa.Table) and table.to_pylist() == [{"db": shared_store.database}]
    finally:
        reader.close()


def test_a_symlinked_path_reads_through_the_same_engine(engine_path, tmp_path):
    from tests.fixtures import drop_store, new_settings, open_store

    link = tmp_path / "engine-link"
    link.symlink_to(engine_path, target_is_directory=True)
    settings = new_settings(engine_path).model_copy(update={"database_url": f"chdb://{link}"})
    store = open_store(settings)
    try:
        assert store.query_arrow(Query("SELECT 7 AS seven", {})).to_pylist() == [{"seven": 7}]
    finally:
        drop_store(store)


def test_a_table_outlives_the_reads_after_it(shared_store):
    # Uncompressed (as bulk reads ask), chDB's own ArrowTable output leaves the table pointing into
    # a result it drops, whose memory the engine reuses: the table went bad after the next reads.
    q = Query.named("classify.all_vectors", db=shared_store.database, items=items_table("toy"))
    first = shared_store.query_arrow(q.with_settings(**BULK_READ))
    expected = shared_store._run(shared_store.client.query_arrow, q)
    other = Query(
        "SELECT toString(number) AS id, arrayWithConstant(16, toFloat32(-number)) AS vector FROM numbers(500)",
        {},
        BULK_READ,
    )
    for _ in range(5):  # results of the same shape, other values
        shared_store.query_arrow(other)
    gc.collect()
    assert first.column("id").to_pylist() == [str(x) for x in expected.column("id").to_pylist()]
    assert first.column("vector").to_pylist() == expected.column("vector").to_pylist()
