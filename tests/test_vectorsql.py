"""The vector SQL of both dialects; the clickhouse dialect's SQL runs against chDB."""

import pytest

from service.errors import BadInput
from service.vectorsql import Exclusion, get_dialect, validate_name


def test_clickhouse_sql_text():
    d = get_dialect("clickhouse")
    sql = d.search("vectrain", "items_unsplash", 10, Exclusion("ids"))
    assert sql == (
        "SELECT id, url, label, 1 - cosineDistance(vector, {q:Array(Float32)}) AS score\n"
        "FROM `vectrain`.`items_unsplash`\n"
        "WHERE id NOT IN {exclude_ids:Array(String)}\n"
        "ORDER BY cosineDistance(vector, {q:Array(Float32)}) ASC\n"
        "LIMIT 10"
    )
    ddl = d.create_items_table("vectrain", "items_unsplash", 512)[0]
    assert "vector_similarity('hnsw', 'cosineDistance', 512, 'f32', 32, 128)" in ddl
    assert "CONSTRAINT dim CHECK length(vector) = 512" in ddl
    assert "vector Array(Float32) CODEC(NONE)" in ddl
    assert d.build_index("vectrain", "items_unsplash")[-1].startswith(
        "ALTER TABLE `vectrain`.`items_unsplash` MATERIALIZE INDEX vi")
    session = d.search("db", "items_x", 5, Exclusion("session"))
    assert "NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String})" in session


def test_myscale_sql_text():
    d = get_dialect("myscale")
    sql = d.search("vectrain", "items_unsplash", 10)
    assert sql == (
        "SELECT id, url, label, 1 - distance(vector, {q:Array(Float32)}) AS score\n"
        "FROM `vectrain`.`items_unsplash`\n"
        "ORDER BY distance(vector, {q:Array(Float32)}) ASC\n"
        "LIMIT 10"
    )
    create, index = d.create_items_table("vectrain", "items_unsplash", 512)
    assert "CONSTRAINT dim CHECK length(vector) = 512" in create
    assert index == ("ALTER TABLE `vectrain`.`items_unsplash` ADD VECTOR INDEX IF NOT EXISTS vi vector "
                     "TYPE MSTG('metric_type=Cosine')")
    assert d.build_index("vectrain", "items_unsplash") == []


def test_ann_settings_scale_with_exclusions():
    d = get_dialect("clickhouse")
    assert d.ann_settings(10, 0, 256)["vector_search_index_fetch_multiplier"] == 1
    s = d.ann_settings(10, 1500, 256)
    assert s["vector_search_index_fetch_multiplier"] == 151
    assert s["max_limit_for_vector_search_queries"] >= 1510
    assert s["hnsw_candidate_list_size_for_search"] >= 1510


@pytest.mark.parametrize("bad", ["", "Items", "1abc", "a-b", "a b", "x" * 64, "a;drop", "`x`", None])
def test_names_are_validated(bad):
    with pytest.raises(BadInput):
        validate_name(bad)


def test_unknown_dialect_and_metric():
    with pytest.raises(BadInput):
        get_dialect("postgres")
    with pytest.raises(BadInput):
        get_dialect("clickhouse").distance(metric="hamming")


def test_clickhouse_search_uses_the_index_on_chdb(store, make_dataset):
    vectors, _, _ = make_dataset(n=200)
    sql = store.dialect.search(store.database, "items_toy", 5, Exclusion("ids"))
    plan = store.run("EXPLAIN indexes = 1 " + sql, parameters={"q": vectors[0].tolist(), "exclude_ids": ["item-00000"]})
    text = "\n".join(r[0] for r in plan.result_rows)
    assert "vector_similarity" in text
    rows = store.run(sql, parameters={"q": vectors[0].tolist(), "exclude_ids": ["item-00000"]},
                     settings=store.dialect.ann_settings(5, 1, 256)).result_rows
    assert len(rows) == 5 and "item-00000" not in [r[0] for r in rows]
