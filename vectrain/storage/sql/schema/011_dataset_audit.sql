-- Whole-dataset audits: suspected label errors and near-duplicate groups. Every run appends its
-- rows under one run_at, so analysts join a run with the items table on id:
--
--   SELECT s.id, s.label, s.suggested, s.score, i.url
--   FROM label_issues AS s INNER JOIN items_<dataset> AS i ON i.id = s.id
--   WHERE s.dataset = '<dataset>' AND s.run_at = (SELECT max(run_at) FROM label_issues WHERE dataset = '<dataset>')
--   ORDER BY s.rank
--
--   audit_runs        one row per run: kind (labels | duplicates), its parameters (JSON), counts, seconds
--   label_issues      items whose stored label disagrees with a confident neighbourhood, scored
--   duplicate_groups  one row per member of a group of items above a similarity threshold

CREATE TABLE IF NOT EXISTS audit_runs
(
    dataset     String,
    kind        LowCardinality(String),
    run_at      DateTime64(3),
    params      String,                   -- JSON: k, split, threshold, ...
    checked     UInt64,                   -- items examined
    found       UInt64,                   -- label issues, or items in duplicate groups
    seconds     Float64
)
ENGINE = MergeTree
ORDER BY (dataset, kind, run_at);

CREATE TABLE IF NOT EXISTS label_issues
(
    dataset     String,
    run_at      DateTime64(3),
    rank        UInt32,                   -- 0 is the most suspect
    id          String,
    label       String,                   -- the stored label
    suggested   String,                   -- the label the neighbourhood votes for
    score       Float32,                  -- vote share of `suggested` minus that of `label`: higher is more suspect
    agreement   Float32,                  -- vote share of `suggested`
    neighbors   Array(String)             -- the voters, nearest first
)
ENGINE = MergeTree
ORDER BY (dataset, run_at, id);

CREATE TABLE IF NOT EXISTS duplicate_groups
(
    dataset     String,
    run_at      DateTime64(3),
    group_id    UInt32,                   -- 0 is the largest group
    id          String,
    size        UInt32,                   -- members of the group
    similarity  Float32                   -- the highest similarity of this member to another member
)
ENGINE = MergeTree
ORDER BY (dataset, run_at, group_id, id);
