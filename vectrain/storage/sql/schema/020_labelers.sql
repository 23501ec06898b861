-- Labelers: who gave each label, each labeler's own answers, and leases of next batches
-- (vectrain/labeling/team.py, vectrain/labeling/leases.py).
--
--   labels         labeler: who gave the session's label of the item ('' : no name). A second
--                  labeler's label of an item is a newer version, as any re-label: the newest label
--                  of an item, whoever gave it, is the session's label (training, batches, exports)
--   label_votes    every labeler's own newest answer per item (removed = 1: taken back), kept beside
--                  the session's label, so two labelers' answers on one item are both there for
--                  agreement (Cohen's kappa) and the review list. class: a multi-class answer ('')
--   label_history  labeler (the column of 014) is who acted; replaced_by: who gave the label the
--                  action replaced (restored with it by an undo); own_had, own_score, own_class: the
--                  actor's own answer before the action, which their undo restores in label_votes
--   leases         items a next batch handed to a named labeler, skipped by everyone else's batches
--                  until `until` (ns since the epoch) or until labeled. One block per grant: grants of
--                  a session are numbered, and a grant's rows are inserted with the deduplication
--                  token (session, grant), so of two concurrent grants with one number the engine
--                  keeps one (as claims do, sql/schema/004_claims.sql): the loser sees the winner's
--                  items and asks again under the next number. Grants are thus serialized per session
--                  in any number of processes, and each grant excludes every earlier live lease.

ALTER TABLE labels ADD COLUMN IF NOT EXISTS labeler String DEFAULT '';

ALTER TABLE label_history
    ADD COLUMN IF NOT EXISTS replaced_by String DEFAULT '',
    ADD COLUMN IF NOT EXISTS own_had UInt8 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS own_score Float32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS own_class String DEFAULT '';

CREATE TABLE IF NOT EXISTS label_votes
(
    session_id  String,
    item_id     String,
    labeler     String,
    score       Float32,
    class       String DEFAULT '',
    removed     UInt8 DEFAULT 0,
    labeled     DateTime64(6) DEFAULT now64(6),
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (session_id, item_id, labeler);

-- The labels given before labelers were recorded are their anonymous labeler's answers.
INSERT INTO label_votes (session_id, item_id, labeler, score, class, removed, labeled, version)
SELECT session_id, item_id, '', score, class, 0, labeled, version
FROM labels FINAL
WHERE removed = 0;

CREATE TABLE IF NOT EXISTS leases
(
    session_id  String,
    grant_no    UInt64,                   -- the session's grant number (one block each)
    claimant    String,                   -- the request that made the grant (random)
    holder      String,                   -- the labeler the items are leased to
    item_id     String,
    position    UInt16,                   -- order within the batch
    source      LowCardinality(String),   -- what served the item (audit, a strategy)
    until       UInt64,                   -- ns since the epoch: the lease ends then
    at          DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (session_id, grant_no, item_id)
SETTINGS non_replicated_deduplication_window = 100000;
