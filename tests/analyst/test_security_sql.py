"""POST /sql and `vectrain sql` under attack, on the real engine: nothing written, read, fetched or
killed, limits enforced, concurrent clients unaffected by each other, and the service still writes.

Each probe has a control that runs the same statement on the service's own (unchecked) handle and
sees the effect happen, so a probe that saw nothing means the check stopped it."""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from vectrain.analyst.allowlists import ALLOWED_TABLE_FUNCTIONS, DENIED_FUNCTIONS, TABLE_FUNCTIONS
from vectrain.analyst.sql import AnalystSQL, _engine_message


def refused(response) -> bool:
    return response.status_code == 403 and "read-only" in response.json()["detail"]


# -- file write ------------------------------------------------------------------------------------
OUTFILE_FORMS = [
    "SELECT 1 INTO OUTFILE '{p}'",
    "SELECT 1 INTO OUTFILE '{p}' TRUNCATE",
    "SELECT 1 INTO OUTFILE '{p}' APPEND",
    "SELECT 1 INTO OUTFILE '{p}.gz' COMPRESSION 'gzip' LEVEL 3",
    "SELECT 1 INTO OUTFILE '{p}' AND STDOUT",
    "SELECT id FROM items_toy INTO OUTFILE '{p}' FORMAT CSV",
    "EXPLAIN SELECT 1 INTO OUTFILE '{p}'",
    "SELECT * FROM (SELECT 1) INTO OUTFILE '{p}'",
    "SHOW TABLES INTO OUTFILE '{p}'",
    "DESCRIBE items_toy INTO OUTFILE '{p}'",
    "WITH x AS (SELECT 1) SELECT * FROM x INTO OUTFILE '{p}'",
]


@pytest.mark.parametrize("form", OUTFILE_FORMS)
def test_into_outfile_writes_nothing(shared_api, tmp_path, form):
    target = tmp_path / "out" / "x.txt"
    target.parent.mkdir()
    r = shared_api.post("/sql", json={"query": form.format(p=target)})
    assert refused(r), r.text
    assert list(target.parent.iterdir()) == []


def test_outfile_control_the_unchecked_engine_does_write(store, tmp_path):
    target = tmp_path / "control.txt"
    store.client.query(f"SELECT 1 INTO OUTFILE '{target}'")
    assert target.exists()


# -- file read ---------------------------------------------------------------------------------------
@pytest.fixture
def secret_file(tmp_path) -> tuple[Path, str]:
    token = "SECRET" + uuid.uuid4().hex
    path = tmp_path / "secret.tsv"
    path.write_text(f'{token}\tcol2\n{{"k": "{token}"}}\tx\n')
    return path, token


FILE_READS = [
    "DESC file('{p}', 'TSVWithNames')",
    "DESCRIBE TABLE file('{p}', 'JSONEachRow')",
    "DESC file('{p}')",
    "SELECT file('{p}')",
    "SELECT FILE('{p}')",
    "SELECT * FROM file('{p}', 'LineAsString')",
    "SELECT * FROM File('{p}', 'LineAsString')",
    "SELECT * FROM `file`('{p}', 'LineAsString')",
    "EXPLAIN SELECT * FROM file('{p}', 'TSVWithNames')",
    "EXPLAIN AST SELECT * FROM file('{p}')",
    "EXPLAIN SYNTAX SELECT * FROM file('{p}')",
    "EXPLAIN QUERY TREE SELECT file('{p}')",
    "EXPLAIN ESTIMATE SELECT * FROM file('{p}')",
    "DESC (SELECT * FROM file('{p}', 'TSVWithNames'))",
    "SELECT 1 IN file('{p}', 'LineAsString')",
    "SELECT * FROM numbers(1) WHERE 1 IN (SELECT count() FROM file('{p}', 'LineAsString'))",
    "SELECT (SELECT any(line) FROM file('{p}', 'LineAsString'))",
    "SELECT * FROM numbers(1) AS a JOIN file('{p}', 'LineAsString') AS b ON 1",
    "WITH f AS (SELECT * FROM file('{p}', 'LineAsString')) SELECT * FROM f",
    "SELECT arrayMap(x -> file(x), ['{p}'])",
    "SELECT * APPLY(file) FROM (SELECT '{p}' AS p)",
    "SELECT * FROM fileCluster('default', '{p}')",
    "SELECT * FROM merge('system', 'one')",
    "SELECT * FROM view(SELECT * FROM file('{p}'))",
    "SELECT * FROM (EXPLAIN AST SELECT * FROM file('{p}'))",
    "SELECT * FROM generateRandom((SELECT any(line) FROM file('{p}', 'LineAsString')))",
]


@pytest.mark.parametrize("form", FILE_READS)
def test_files_are_never_read(shared_api, secret_file, form):
    path, token = secret_file
    r = shared_api.post("/sql", json={"query": form.format(p=path)})
    assert refused(r), r.text
    assert token not in r.text and str(path) not in r.text


def test_file_read_control_the_unchecked_engine_does_read(store, secret_file):
    path, token = secret_file
    result = store.client.query(f"DESC file('{path}', 'TSVWithNames')")
    assert result.result_rows[0][0] == token


# -- server-side requests ------------------------------------------------------------------------------
@pytest.fixture
def listener():
    """A local HTTP server that records every request it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            body = b"a\tb\n1\t2\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


URL_FETCHES = [
    "DESC url('{u}/a', 'TSVWithNames')",
    "DESCRIBE TABLE url('{u}/a', 'TSVWithNames')",
    "SELECT * FROM url('{u}/a', 'TSV')",
    "SELECT * FROM URL('{u}/a', 'TSV')",
    "SELECT * FROM numbers(1) WHERE 1 IN (SELECT count() FROM url('{u}/a', 'TSV'))",
    "SELECT (SELECT count() FROM url('{u}/a', 'TSV'))",
    "SELECT 1 IN url('{u}/a', 'TSV')",
    "SELECT * FROM numbers(1) AS n JOIN url('{u}/a', 'TSV') AS u ON 1",
    "EXPLAIN SELECT * FROM url('{u}/a', 'TSVWithNames')",
    "EXPLAIN PIPELINE SELECT * FROM url('{u}/a', 'TSV')",
    "DESC (SELECT * FROM url('{u}/a', 'TSVWithNames'))",
    "SELECT * FROM urlCluster('default', '{u}/a', 'TSV')",
    "SELECT * FROM s3('{u}/bucket/a.tsv', 'TSV')",
    "SELECT * FROM remote('127.0.0.1:{port}', system.one)",
    "SELECT * FROM remoteSecure('127.0.0.1:{port}', system.one)",
    "SELECT * FROM cluster('default', system.one)",
    "SELECT * FROM mysql('127.0.0.1:{port}', 'db', 't', 'u', 'p')",
    "SELECT * FROM postgresql('127.0.0.1:{port}', 'db', 't', 'u', 'p')",
    "SELECT * FROM executable('true', 'TSV', 'x String')",
    "SELECT aiGenerate('hello')",
]


@pytest.mark.parametrize("form", URL_FETCHES)
def test_no_server_side_requests(shared_api, listener, form):
    url, hits = listener
    r = shared_api.post("/sql", json={"query": form.format(u=url, port=url.rsplit(":", 1)[1])})
    assert refused(r), r.text
    time.sleep(0.05)
    assert hits == []


def test_url_control_the_unchecked_engine_does_fetch(store, listener):
    url, hits = listener
    store.client.query(f"DESC url('{url}/control', 'TSVWithNames')")
    assert "/control" in hits


# -- statements that are not reads -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        "KILL QUERY WHERE query NOT LIKE '%KILL%'",
        "KILL QUERY WHERE 1 SYNC",
        "KILL MUTATION WHERE 1",
        "SYSTEM FLUSH LOGS",
        "SYSTEM DROP DNS CACHE",
        "SET readonly = 0",
        "SET max_memory_usage = 0",
        "USE system",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT 1 SETTINGS max_execution_time = 100000",
        "SELECT * FROM (SELECT 1 SETTINGS max_memory_usage = 0)",
        "SELECT 1 UNION ALL SELECT 2 SETTINGS readonly = 0",
        "EXPLAIN readonly = 0 SELECT 1",
        "EXPLAIN SELECT 1 SETTINGS readonly = 0",
        "DESC items_toy SETTINGS readonly = 0",
        "SHOW TABLES SETTINGS readonly = 0",
        "SELECT 1 FORMAT JSON",
        "SHOW SETTINGS LIKE '%'",
        "SHOW PROCESSLIST",
        "SHOW GRANTS",
        "SHOW USERS",
        "SHOW DICTIONARIES",
        "SHOW CREATE DATABASE default",
        "EXISTS TABLE items_toy",
        "CHECK TABLE items_toy",
        "EXPLAIN TABLE OVERRIDE mysql('a', 'b', 'c', 'd', 'e') PARTITION BY x",
        "SELECT {p:String}",
        "GRANT SELECT ON *.* TO default",
        "CREATE USER evil",
        "CREATE FUNCTION evil AS (x) -> x",
        "DETACH TABLE items_toy",
        "RENAME TABLE items_toy TO gone",
        "BACKUP TABLE items_toy TO File('x')",
    ],
)
def test_non_reads_are_refused(shared_api, shared_store, shared_toy, statement):
    r = shared_api.post("/sql", json={"query": statement})
    assert refused(r), r.text
    count = f"SELECT count() FROM {shared_store.database}.items_toy"  # the table itself, not a cached count
    assert shared_store.client.query(count).result_rows[0][0] == len(shared_toy[2])


def test_multi_statements_run_nothing(api, store, make_dataset):
    make_dataset(n=20)
    r = api.post("/sql", json={"query": "SELECT 1; DROP TABLE items_toy"})
    assert r.status_code == 400 and "Multi-statements are not allowed" in r.json()["detail"]
    assert store.table_exists("items_toy") and store.registry.count_rows("toy") == 20


def test_kill_query_does_not_cancel_another_clients_query(api):
    results = {}

    def long_query():
        results["long"] = api.post("/sql", json={"query": "SELECT sleep(2)"})

    thread = threading.Thread(target=long_query)
    thread.start()
    time.sleep(0.5)
    r = api.post("/sql", json={"query": "KILL QUERY WHERE query LIKE '%sleep%'"})
    assert refused(r)
    thread.join()
    assert results["long"].status_code == 200, results["long"].text


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM system.users",
        "SELECT * FROM system.processes",
        "SELECT * FROM system.settings",
        "SELECT * FROM system.tables",
        "SELECT name FROM system.databases",
        "SELECT * FROM system.query_log",
        "SELECT 1 IN system.users",
        "SELECT * FROM numbers(1) WHERE 1 IN (SELECT 1 FROM system.grants)",
        "SELECT * FROM default.anything",
        "SELECT * FROM INFORMATION_SCHEMA.tables",
        "SELECT * FROM information_schema.columns",
        "SHOW TABLES FROM system",
        "SHOW COLUMNS FROM system.users",
        "SHOW COLUMNS FROM items_toy FROM system",
        "SHOW CREATE TABLE system.users",
        "DESCRIBE system.users",
        "DESC default.anything",
        "SELECT getSetting('max_memory_usage')",
        "SELECT getServerSetting('path')",
        "SELECT hostName()",
        "SELECT FQDN()",
        "SELECT getMacro('shard')",
        "SELECT filesystemCapacity()",
        "SELECT dictGet('d', 'a', 1)",
        "SELECT joinGet('default.j', 'a', 1)",
        "SELECT hasColumnInTable('system', 'users', 'name')",
        "SELECT regionToName(1)",
        "SELECT logTrace('x')",
        "SELECT generateSerialID('x')",
        "SELECT version()",
        "SELECT uptime()",
        "SELECT currentUser()",
        "SELECT user()",
        "SELECT revision()",
        "SELECT queryID()",
        "SELECT initial_query_id()",
        "SELECT connectionId()",
        "SELECT authenticatedUser()",
        "SELECT 1 WHERE version() LIKE '26%'",
    ],
)
def test_other_databases_system_tables_and_server_functions_are_refused(shared_api, query):
    r = shared_api.post("/sql", json={"query": query})
    assert refused(r), r.text


def test_every_table_function_of_the_engine_is_known(store):
    """A new engine version with new table functions must update the list the check uses."""
    names = {r[0].lower() for r in store.client.query("SELECT name FROM system.table_functions").result_rows}
    assert names <= TABLE_FUNCTIONS


@pytest.mark.parametrize("name", sorted(TABLE_FUNCTIONS - {n.lower() for n in ALLOWED_TABLE_FUNCTIONS}))
def test_every_other_table_function_is_refused(shared_api, name):
    for form in ("SELECT * FROM {f}({a})", "DESC {f}({a})", "SELECT 1 IN `{f}`({a})"):
        for args in ("'x'", "SELECT 1", "SELECT 1 ELSE numbers(1)"):  # view() and its kin take a SELECT
            r = shared_api.post("/sql", json={"query": form.format(f=name, a=args)})
            if r.status_code == 400 and "Syntax error" in r.json()["detail"]:
                continue
            assert refused(r), (form, args, r.text)
            break
        else:
            pytest.fail(f"no form of {form} parsed for {name}")


@pytest.mark.parametrize("name", sorted(DENIED_FUNCTIONS))
def test_every_denied_function_is_refused(shared_api, name):
    r = shared_api.post("/sql", json={"query": f"SELECT {name}('x')"})
    assert refused(r), r.text


def test_the_engine_refuses_changes_even_past_the_check(store):
    """Defense in depth: the handles themselves are readonly=1 with the limits set, so a
    statement that got past the check still could not write or change a limit."""
    analyst = AnalystSQL.for_store(store)
    try:
        with analyst._pool.handle() as client:
            for statement in (
                "SET readonly = 0",
                "SET max_memory_usage = 0",
                "CREATE TABLE evil (x Int8) ENGINE = Memory",
                "SELECT 1 SETTINGS max_execution_time = 100000",
            ):
                with pytest.raises(Exception, match="readonly|READONLY"):
                    client.query(statement)
    finally:
        analyst.close()
    assert not store.table_exists("evil")
    limits = analyst.engine_limits()
    assert list(limits)[-1] == "readonly" and limits["readonly"] == 1


def test_what_runs_is_what_was_checked(store, monkeypatch):
    """The client appends FORMAT Native to the formatted statement; the check parses exactly
    that text. Watch what reaches the engine."""
    from clickhouse_connect.driver._backend import chdb_backend

    sent: list[str] = []
    original = chdb_backend.ChdbBackend._query_locked

    def spy(self, sql, fmt, params=None):
        sent.append(sql if isinstance(sql, str) else sql.decode())
        return original(self, sql, fmt, params)

    analyst = AnalystSQL.for_store(store)
    try:
        analyst.run("SELECT 1")  # the handle exists and its settings are applied
        monkeypatch.setattr(chdb_backend.ChdbBackend, "_query_locked", spy)
        result = analyst.run("select  number  from numbers(3) -- a comment;\n;")
    finally:
        analyst.close()
    assert result["rows"] == [[0], [1], [2]]
    assert sent[-1] == "SELECT number FROM numbers(3)\n FORMAT Native"
    assert any(
        "formatQueryFromJSON" in s and "parseQueryToJSON(concat(statement, '\\n FORMAT Native'))" in s for s in sent
    )


# -- limits ----------------------------------------------------------------------------------------------
def test_memory_limit_stops_a_huge_aggregation(api, store):
    store.settings.sql_max_memory_usage = 200_000_000
    start = time.monotonic()
    r = api.post("/sql", json={"query": "SELECT length(groupArray(number)) FROM numbers(40000000)"})
    assert r.status_code == 413, r.text
    assert "more than 200 MB of memory" in r.json()["detail"]
    assert time.monotonic() - start < 10


def test_groupArray_over_a_billion_numbers_is_stopped_quickly(api):
    start = time.monotonic()
    r = api.post("/sql", json={"query": "SELECT length(groupArray(number)) FROM numbers(1000000000)"})
    assert r.status_code == 413, r.text
    assert time.monotonic() - start < 10


def test_error_messages_hold_no_server_paths():
    class EngineError(Exception):
        pass

    text = (
        "Code: 107. DB::Exception: Cannot open file /var/lib/clickhouse/store/abc/def.bin, errno: 2 (version 26.9.2.1)"
    )
    message = _engine_message(EngineError(text))
    assert "/var/lib" not in message and "<path>" in message and "version" not in message


def test_engine_errors_do_not_echo_paths(api, store, make_dataset):
    make_dataset(n=20)
    r = api.post("/sql", json={"query": "SELECT throwIf(1, 'see /etc/shadow and /home/user/.ssh/id_rsa')"})
    assert r.status_code == 400
    assert "/etc/shadow" not in r.text and "id_rsa" not in r.text


# -- concurrency -------------------------------------------------------------------------------------------
def test_concurrent_refusals_never_break_valid_selects(api, store, make_dataset):
    make_dataset(n=100)
    store.settings.sql_pool_size = 3
    store.settings.sql_pool_wait_seconds = 30
    bad = [
        "KILL QUERY WHERE 1",
        "SELECT 1 INTO OUTFILE '/tmp/never'",
        "DESC file('/etc/passwd', 'TSV')",
        "SELECT 1 SETTINGS readonly = 0",
        "DROP TABLE items_toy",
    ]
    failing = ["SELECT * FROM no_such_table", "SELECT throwIf(1)", "SELEC 1"]
    outcomes: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        for j in range(25):
            if (i + j) % 3 == 0:
                kind, query = "valid", "SELECT count() FROM items_toy WHERE split = 'test'"
            elif (i + j) % 3 == 1:
                kind, query = "refused", bad[(i + j) % len(bad)]
            else:
                kind, query = "failing", failing[(i + j) % len(failing)]
            r = api.post("/sql", json={"query": query})
            with lock:
                outcomes.append((kind, r.status_code, r.text))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(outcomes) == 150
    for kind, status, text in outcomes:
        assert "closed" not in text, text
        if kind == "valid":
            assert status == 200 and json.loads(text)["rows"] == [[20]], text
        elif kind == "refused":
            assert status == 403, text
        else:
            assert status == 400, text
    assert store.registry.count_rows("toy") == 100


def test_a_full_pool_answers_429_quickly(api, store):
    store.settings.sql_pool_size = 1
    store.settings.sql_pool_wait_seconds = 0.2
    results = {}

    def long_query():
        results["long"] = api.post("/sql", json={"query": "SELECT sleep(2)"})

    thread = threading.Thread(target=long_query)
    thread.start()
    time.sleep(0.5)
    start = time.monotonic()
    r = api.post("/sql", json={"query": "SELECT 1"})
    waited = time.monotonic() - start
    assert r.status_code == 429, r.text
    assert "busy" in r.json()["detail"] and waited < 1.5
    thread.join()
    assert results["long"].status_code == 200
    assert api.post("/sql", json={"query": "SELECT 1"}).status_code == 200


def test_the_service_still_writes_after_refused_and_failed_statements(api, store, make_dataset):
    make_dataset(n=50)
    for query in [
        "SELECT 1 SETTINGS readonly = 1",
        "SET readonly = 1",
        "DROP TABLE items_toy",
        "SELECT 1 INTO OUTFILE '/tmp/x'",
        "SELECT * FROM nope",
        "SELECT throwIf(1)",
        "SELECT length(groupArray(number)) FROM numbers(1000000000)",
    ]:
        assert api.post("/sql", json={"query": query}).status_code in (400, 403, 413)
    r = api.post("/sessions", json={"dataset": "toy", "name": "after_" + uuid.uuid4().hex[:8], "vector": [1.0] * 16})
    assert r.status_code == 201, r.text
    make_dataset(name="later", n=30, seed=1)
    assert store.registry.count_rows("later") == 30
    assert api.post("/sql", json={"query": "SELECT count() FROM items_later"}).json()["rows"] == [[30]]


# -- the CLI runs the same check -----------------------------------------------------------------------------
def test_cli_sql_runs_the_same_check(store, make_dataset, tmp_path, monkeypatch):
    from vectrain.cli.main import main
    from vectrain.core.config import get_settings

    make_dataset(n=20)
    monkeypatch.setenv("VECTRAIN_DATABASE_URL", store.settings.database_url)
    monkeypatch.setenv("VECTRAIN_DATABASE", store.database)
    monkeypatch.delenv("VECTRAIN_SERVICE_URL", raising=False)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        target = tmp_path / "cli.txt"
        r = runner.invoke(main, ["sql", f"SELECT 1 INTO OUTFILE '{target}'"])
        assert r.exit_code != 0 and "read-only" in r.output and "Traceback" not in r.output
        assert not target.exists()
        r = runner.invoke(main, ["--json", "sql", "SELECT count() AS n FROM items_toy"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["rows"] == [[20]]
    finally:
        get_settings.cache_clear()


def test_a_reader_url_only_applies_to_a_server(api, store):
    store.settings.sql_database_url = "http://reader:pw@localhost:8123/" + store.database
    r = api.post("/sql", json={"query": "SELECT 1"})
    assert r.status_code == 503 and "VECTRAIN_SQL_DATABASE_URL" in r.json()["detail"]
