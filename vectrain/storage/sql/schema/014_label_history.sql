-- Label history, for undo across a session's whole history. The labels table keeps only the
-- newest version of each label once its parts merge (ReplacingMergeTree), so the labels an
-- action replaced are kept here: every change of a session's labels (a batch of labels, a
-- removal) is one action, a block of rows with each item's label as it was before the action.
-- Undo takes back the newest action not undone yet: it writes those labels again as newer
-- versions of the labels table (a removal where the item had none) and records an `undo` row.
--
--   label_history  action: the version (ns) the action wrote its labels with, one per request
--                  kind: label | remove | undo (an undo's one row names the action in `undoes`)
--                  had: the item had a live label before the action; score ... labeled: that
--                  label with its provenance, restored exactly by an undo
--                  labeler: who acted, '' until labels record their labeler; undo per labeler
--                  is then the same query with `labeler = ...` added

CREATE TABLE IF NOT EXISTS label_history
(
    session_id    String,
    action        UInt64,
    kind          LowCardinality(String),
    undoes        UInt64 DEFAULT 0,
    labeler       String DEFAULT '',
    item_id       String,
    had           UInt8 DEFAULT 0,
    score         Float32 DEFAULT 0,
    source        LowCardinality(String) DEFAULT 'user',
    audit         UInt8 DEFAULT 0,
    served_round  Int64 DEFAULT -1,
    served_batch  UInt64 DEFAULT 0,
    first_version UInt64 DEFAULT 0,
    labeled       DateTime64(6) DEFAULT now64(6),
    at            DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (session_id, action, item_id);
