-- Classifier training sessions. Idempotent; applied by Store.migrate().
--
--   sessions     one row per session; the starting weights (prompt embedding, vector or
--                normalized mean of example items) are kept so `auto` can regularize toward them
--   labels       one live row per (session, item): re-labeling inserts a newer version and
--                ReplacingMergeTree keeps the newest, so reads use FINAL
--   rounds       every training round, append-only; round 0 is the starting classifier
--   predictions  scores of a whole dataset under one round, written by one INSERT ... SELECT

CREATE TABLE IF NOT EXISTS sessions
(
    id          String,
    dataset     String,
    name        String,
    source      LowCardinality(String),   -- prompt | vector | positive_ids
    prompt      String DEFAULT '',
    examples    Array(String) DEFAULT [],
    init_weights Array(Float32),
    created     DateTime64(3) DEFAULT now64(3),
    deleted     UInt8 DEFAULT 0,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS labels
(
    session_id  String,
    item_id     String,
    score       Float32,                  -- in [-1, 1]: +1 positive, -1 negative, graded between
    labeled     DateTime64(6) DEFAULT now64(6),
    version     UInt64                    -- nanoseconds: the newest label of an item wins
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (session_id, item_id);

CREATE TABLE IF NOT EXISTS rounds
(
    session_id  String,
    round       UInt32,
    mode        LowCardinality(String),   -- init | auto | seed
    weights     Array(Float32),
    bias        Float64,
    threshold   Float64,                  -- positive when dot(weights, v) + bias > threshold
    metrics     String,                   -- JSON
    created     DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (session_id, round);

CREATE TABLE IF NOT EXISTS predictions
(
    session_id  String,
    round       UInt32,
    item_id     String,
    score       Float32,                  -- dot(weights, v) + bias
    positive    UInt8,
    created     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree
ORDER BY (session_id, round, item_id);
