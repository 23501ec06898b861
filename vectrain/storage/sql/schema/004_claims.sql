-- Names and numbers that must be unique across processes (several service replicas may share
-- one ClickHouse server): session names, label set names, dataset names, round numbers.
--
-- ClickHouse has no unique constraint, so a claim is an INSERT with an insert_deduplication_token
-- of (kind, name, generation): the engine keeps the first block with a token and drops every later
-- one, atomically, so every claimant reads back the same single winner. Releasing a name (a
-- deleted label set) writes a release row; the next claim uses the next generation.
--   claims   kind: session | labelset | dataset | round; claimant '' marks a release

CREATE TABLE IF NOT EXISTS claims
(
    kind        LowCardinality(String),
    name        String,
    generation  UInt32,
    claimant    String,
    at          DateTime64(6) DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (kind, name, generation)
SETTINGS non_replicated_deduplication_window = 100000;
