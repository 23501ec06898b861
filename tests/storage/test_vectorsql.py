"""The SQL builder of both dialects: queries are values with their own parameters; the
clickhouse dialect's SQL runs against chDB."""

import numpy as np
import pytest

from vectrain.core.errors import BadInput
from vectrain.core.names import function_name, validate_name
from vectrain.storage.query import Floats, Query, Strings
from vectrain.storage.vectorsql.dialect import get_dialect
from vectrain.storage.vectorsql.filters import Exclusion, Ids, Labeled, Split


def test_clickhouse_nearest_carries_its_parameters():
    d = get_dialect("clickhouse")
    q = d.nearest("vectrain", "items_unsplash", [1.0, 0.0], 10, [Exclusion.of_ids(["b", "a", "a"])])
    assert q.sql == (
        "SELECT id, url, label, 1 - cosineDistance(vector, {q:Array(Float32)}) AS score\n"
        "FROM `vectrain`.`items_unsplash`\n"
        "WHERE id NOT IN {x_ids:Array(String)}\n"
        "ORDER BY cosineDistance(vector, {q:Array(Float32)}) ASC\n"
        "LIMIT 10"
    )
    assert q.parameters == {"q": Floats([1.0, 0.0]), "x_ids": ["a", "b"]}
    ddl = d.create_items_table("vectrain", "items_unsplash", 512)[0].sql
    assert "vector_similarity('hnsw', 'cosineDistance', 512, 'f32', 32, 64)" in ddl
    assert "CONSTRAINT dim CHECK length(vector) = 512" in ddl
    assert "vector Array(Float32) CODEC(NONE)" in ddl
    build = d.build_index("vectrain", "items_unsplash")[-1]
    assert build.sql.startswith("ALTER TABLE `vectrain`.`items_unsplash` MATERIALIZE INDEX vi")
    assert build.settings == {"mutations_sync": 2}
    session = d.nearest("db", "items_x", [1.0], 5, [Exclusion.session("s1", 3), Split("test"), Labeled()])
    assert (
        "NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {x_session:String} AND removed = 0)" in session.sql
    )
    assert "split = {f_split:String}" in session.sql and "label != ''" in session.sql
    assert session.parameters["x_session"] == "s1" and session.parameters["f_split"] == "test"


def test_filters_of_one_kind_cannot_be_combined_silently():
    d = get_dialect("clickhouse")
    with pytest.raises(ValueError, match="two filters"):
        d.nearest("db", "items_x", [1.0], 5, [Split("a"), Split("b")])
    with pytest.raises(ValueError, match="unknown items columns"):
        d.nearest("db", "items_x", [1.0], 5, columns=("id", "vector; DROP TABLE x"))


def test_myscale_sql_text():
    d = get_dialect("myscale")
    q = d.nearest("vectrain", "items_unsplash", [0.5], 10)
    assert q.sql == (
        "SELECT id, url, label, 1 - distance(vector, {q:Array(Float32)}) AS score\n"
        "FROM `vectrain`.`items_unsplash`\n"
        "ORDER BY distance(vector, {q:Array(Float32)}) ASC\n"
        "LIMIT 10"
    )
    create, index = d.create_items_table("vectrain", "items_unsplash", 512)
    assert "CONSTRAINT dim CHECK length(vector) = 512" in create.sql
    assert index.sql == (
        "ALTER TABLE `vectrain`.`items_unsplash` ADD VECTOR INDEX IF NOT EXISTS vi vector "
        "TYPE MSTG('metric_type=Cosine')"
    )
    assert d.build_index("vectrain", "items_unsplash") == []


def test_ann_settings_scale_with_exclusions():
    d = get_dialect("clickhouse")
    assert d.ann_settings(10, 0, 256)["vector_search_index_fetch_multiplier"] == 1
    s = d.ann_settings(10, 1500, 256)
    assert s["vector_search_index_fetch_multiplier"] == 151
    assert s["max_limit_for_vector_search_queries"] >= 1510
    assert s["hnsw_candidate_list_size_for_search"] >= 1510


@pytest.mark.parametrize(
    "bad", ["", "Items", "1abc", "a-b", "a b", "x" * 64, "a;drop", "`x`", None, "abc\n", "x\n", "abc\x00"]
)
def test_names_are_validated(bad):
    with pytest.raises(BadInput):
        validate_name(bad)


def test_function_names_cannot_collide_across_databases():
    assert function_name("vectrain", "zeros") == "clf_vectrain__zeros"
    assert function_name("a_b", "c") != function_name("a", "b_c")
    with pytest.raises(BadInput):
        function_name("vectrain", "a__b")


def test_unknown_dialect_and_metric():
    with pytest.raises(BadInput):
        get_dialect("postgres")
    with pytest.raises(BadInput):
        get_dialect("clickhouse").distance(metric="hamming")


def test_named_queries_are_values():
    q = Query.named("items.count", db="vectrain", items="items_x")
    assert "{items:Identifier}" in q.sql and q.parameters == {"db": "vectrain", "items": "items_x"}
    with pytest.raises(KeyError):
        Query.named("items.nope")
    with pytest.raises(TypeError):
        q.parameters["x"] = 1  # a Query is a value: its parameters cannot change under it


def test_clickhouse_search_uses_the_index_on_chdb(store, make_dataset):
    vectors, _, _ = make_dataset(n=200)
    query = store.dialect.nearest(
        store.database,
        "items_toy",
        vectors[0],
        5,
        [Exclusion.of_ids(["item-00000"]), Ids(["item-00001", "item-00002"])],
    )
    plan = "\n".join(r["explain"] for r in store.rows(store.dialect.explain_indexes(query)))
    assert "vector_similarity" in plan
    query = store.dialect.nearest(store.database, "items_toy", vectors[0], 5, [Exclusion.of_ids(["item-00000"])])
    rows = store.rows(query.with_settings(store.dialect.ann_settings(5, 1, 256)))
    assert len(rows) == 5 and "item-00000" not in [r["id"] for r in rows]
    assert np.isclose(rows[0]["score"], max(vectors[1:] @ vectors[0]), atol=1e-5)


def test_floats_bind_every_float32_exactly(shared_store):
    """Vectors are bound as one pre-formatted typed parameter (9 significant digits): the engine
    reads back the very same float32 values, nested lists and the edge values included."""
    rng = np.random.default_rng(3)
    vector = rng.normal(size=512).astype(np.float32)
    edges = np.array([0.0, -0.0, 1e-45, 3.4028235e38, -1.1754944e-38, np.float32(1) / 3], dtype=np.float32)
    row = shared_store.rows(
        Query(
            "SELECT {q:Array(Float32)} AS q, {m:Array(Array(Float32))} AS m, "
            "{e:Array(Float32)} AS e, {none:Array(Array(Float32))} AS none",
            {
                "q": Floats(vector),
                "m": Floats(np.stack([vector, -vector])),
                "e": Floats(edges),
                "none": Floats(np.zeros((0, 4))),
            },
        )
    )[0]
    assert np.array_equal(np.asarray(row["q"], np.float32), vector)
    assert np.array_equal(np.asarray(row["m"], np.float32), np.stack([vector, -vector]))
    assert np.array_equal(np.asarray(row["e"], np.float32), edges)
    assert row["none"] == []
    with pytest.raises(ValueError):
        Floats(np.zeros((2, 2, 2)))


def test_strings_bind_hostile_ids_exactly(shared_store):
    """Ids are bound as one pre-formatted Array(String) parameter: quotes, backslashes, tabs,
    newlines, backquotes and SQL fragments come back from the engine unchanged."""
    ids = ["a", "b'c", "d\\e", "f`g", "h\tI", "j\nk", "\\'", "", "') OR 1=1 --", "x\\", "é🙂", "{q:String}"]
    row = shared_store.rows(
        Query(
            "SELECT {ids:Array(String)} AS ids, has({ids:Array(String)}, {one:String}) AS found",
            {"ids": Strings(ids), "one": "') OR 1=1 --"},
        )
    )[0]
    assert row["ids"] == ids and row["found"] == 1
    assert Strings(ids) == ids and Strings([]) == []
    with pytest.raises(TypeError):
        Strings([1, 2])
