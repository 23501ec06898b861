-- Classification: label sets (zero-shot), stored zero-shot predictions.
-- Applied once by Store.migrate(); every statement is idempotent.
--
--   labelsets      registry: one row per label set; replaced rows keep their version, so a
--                  label set re-created under the same name never mixes with the old vectors
--   label_vectors  one row per (labelset, version, label): the unit label embeddings
--   zero_shot      predictions of a whole dataset or split, scored in Python and inserted in
--                  blocks (vectrain/classify/zeroshot.py), one run_at per run; join with items_<dataset>
--                  ON id for analysis

CREATE TABLE IF NOT EXISTS labelsets
(
    name       String,
    labels     Array(String),
    dim        UInt32,
    encoder    String,            -- text encoder spec used, '' for precomputed vectors
    templates  Array(String),
    source     LowCardinality(String),  -- 'templates' | 'vectors'
    created    DateTime DEFAULT now(),
    deleted    UInt8 DEFAULT 0,
    version    UInt64 DEFAULT toUnixTimestamp64Micro(now64(6))
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name;

CREATE TABLE IF NOT EXISTS label_vectors
(
    labelset   String,
    version    UInt64,
    position   UInt32,
    label      String,
    vector     Array(Float32) CODEC(NONE)
)
ENGINE = MergeTree
ORDER BY (labelset, version, position);

CREATE TABLE IF NOT EXISTS zero_shot
(
    dataset    String,
    labelset   String,
    id         String,
    label      String,
    score      Float32,           -- cosine similarity to the winning label
    margin     Float32,           -- best minus second-best similarity
    scores     Array(Float32),    -- similarity to every label, in the label set's order
    run_at     DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(run_at)
ORDER BY (dataset, labelset, id);
