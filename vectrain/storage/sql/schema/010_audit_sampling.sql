-- Audit sampling: the random draws that measure a session's classifier, and how every label was
-- sampled.
--
--   audit_draws  one row per audit draw (written by the service only, never from a request body):
--                a uniform random draw, in the order of a keyed hash with a secret salt, from the
--                items unlabeled and not already drawn at that moment. `pool` is how many items the
--                batch's draws were drawn from (without replacement); `position` orders the draws
--                of one batch.
--   labels       each label carries its provenance: audit 0/1 (decided by the service from
--                audit_draws), source (audit, or the strategy that served it as the client reports,
--                or user: picked by hand), the round that served it, the audit draw's batch, and
--                first_version: when the item was first labeled (a re-label keeps it), which orders
--                labels against audit draws.
--   unseen_decisions  per training round, each training label's cross-fitted decision (from the
--                round's cross-validation: a fold model that did not train on it), so the estimate
--                measures the items a round trained on as it measures audit draws, unseen.
--   sessions     audit_rate: the share of each batch drawn for the audit unless a request says
--                otherwise; negatives: the items a session was started with as negative examples.

CREATE TABLE IF NOT EXISTS audit_draws
(
    session_id  String,
    batch       UInt64,                   -- nanoseconds when the batch was drawn: orders draws and labels
    position    UInt16,                   -- order of the draw within its batch
    item_id     String,
    round       UInt32,                   -- the round whose classifier was current
    pool        UInt64,                   -- unlabeled items not drawn before, that the batch drew from
    drawn       DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (session_id, item_id, batch);

CREATE TABLE IF NOT EXISTS unseen_decisions
(
    session_id  String,
    round       UInt32,
    item_id     String,
    positive    UInt8                     -- the decision of a fold model that did not train on the item
)
ENGINE = MergeTree
ORDER BY (session_id, round, item_id);

ALTER TABLE labels
    ADD COLUMN IF NOT EXISTS source LowCardinality(String) DEFAULT 'user',
    ADD COLUMN IF NOT EXISTS audit UInt8 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS served_round Int64 DEFAULT -1,
    ADD COLUMN IF NOT EXISTS served_batch UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS first_version UInt64 DEFAULT 0;

ALTER TABLE sessions
    ADD COLUMN IF NOT EXISTS audit_rate Float32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS negatives Array(String) DEFAULT [];
