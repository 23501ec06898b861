-- The account the vectrain service uses for POST /sql (VECTRAIN_SQL_DATABASE_URL in
-- docker-compose.yml). The ClickHouse image runs this file once, when its data volume is empty,
-- as CLICKHOUSE_USER.
--
-- It may SELECT from the vectrain database and nothing else: no INSERT/ALTER/CREATE/DROP, and
-- no SOURCES grants (FILE, URL, S3, REMOTE, MYSQL, ...), so table functions that reach files or
-- the network fail for it even if a statement got past the service's own check. The service
-- sends its own limits and readonly=1 with every statement; the profile caps how far they can
-- be raised. Change the password in a real deployment (here and in docker-compose.yml).

CREATE SETTINGS PROFILE IF NOT EXISTS vectrain_reader_limits SETTINGS
    max_execution_time = 10 MAX 60,
    max_memory_usage = 1000000000 MAX 4000000000,
    max_rows_to_read = 50000000 MAX 1000000000,
    max_result_rows = 10000 MAX 1000000,
    max_result_bytes = 100000000 MAX 1000000000;

CREATE USER IF NOT EXISTS vectrain_reader
    IDENTIFIED WITH sha256_password BY 'vectrain_reader'
    SETTINGS PROFILE 'vectrain_reader_limits';

GRANT SELECT ON vectrain.* TO vectrain_reader;
