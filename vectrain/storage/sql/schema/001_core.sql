-- vectrain core schema. Applied once, in file order, by Store.migrate(); recorded in
-- schema_migrations. Every statement is idempotent.
--
-- Tables, and the file that creates them:
--   datasets            registry: one row per dataset (this file)
--   items_<dataset>     one per dataset, created by the vector SQL module (dimension and index
--                       DDL depend on the dataset and the dialect): id, url, label, split, meta, vector
--   sessions, labels, rounds, predictions      classifier training (002_sessions.sql)
--   labelsets, label_vectors, zero_shot        zero-shot / kNN / tourney (003_classify.sql)

CREATE TABLE IF NOT EXISTS datasets
(
    name        String,
    dim         UInt32,
    encoder     String,          -- encoder spec: pixels, clip, clip@layer=6, features
    model       String,          -- model id or path behind the encoder, '' when none
    metric      LowCardinality(String) DEFAULT 'cosine',
    description String DEFAULT '',
    created     DateTime DEFAULT now(),
    deleted     UInt8 DEFAULT 0,
    version     UInt64 DEFAULT toUnixTimestamp64Micro(now64(6))
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name;
