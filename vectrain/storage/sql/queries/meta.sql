-- name: table_exists
SELECT count() > 0 FROM system.tables WHERE database = {db:String} AND name = {table:String}

-- name: ping
SELECT 1

-- name: use_database
USE {db:Identifier}

-- name: create_database
CREATE DATABASE IF NOT EXISTS {db:Identifier}

-- name: create_migrations
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version String,
    applied DateTime DEFAULT now()
)
ENGINE = MergeTree
ORDER BY version

-- name: applied_migrations
SELECT version FROM schema_migrations

-- name: index_cache
-- The engine's vector index cache: its size, policy and the SLRU protected share.
SELECT
    toUInt64OrZero(anyIf(value, name = 'vector_similarity_index_cache_size')) AS size,
    anyIf(value, name = 'vector_similarity_index_cache_policy') AS policy,
    toFloat64OrZero(anyIf(value, name = 'vector_similarity_index_cache_size_ratio')) AS ratio
FROM system.server_settings
WHERE name LIKE 'vector_similarity_index_cache_%'
