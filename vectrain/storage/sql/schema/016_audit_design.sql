-- The estimate of a session's classifier from a predictor and actively sampled audit draws
-- (vectrain/labeling/estimates.py, estimators.py, predictor.py).
--
--   audit_scores      per round, every item's predictor logit (the classifier's score and the
--                     vote of the most similar strategy labels; audit labels never enter it) and
--                     the round's decision: the estimate's control variate, and the design of
--                     the audit draws made while the round is current. Written once per round by
--                     a background step after training (claimed, so one process writes it).
--   audit_predictors  per round whose scores are complete: pv's two parameters (the logit
--                     recalibrated with the audit labels of the time; it weights the next draws)
--                     and the round's estimate as JSON.
--   audit_draws       each draw now records its design: the round whose scores weighted it
--                     (-1: uniform), pv's parameters, the uniform share (floor), the sum of
--                     sqrt(pv (1 - pv)) over the batch's pool, the drawn item's weight q (q sums
--                     to 1 over the batch's pool) and the normalizer (1 minus the q of the batch's
--                     earlier draws): the draw's probability was weight / normalizer. `items`: the
--                     dataset's rows at the draw. Draws made before this file were uniform: their
--                     defaults say so.

CREATE TABLE IF NOT EXISTS audit_scores
(
    session_id  String,
    round       UInt32,
    item_id     String,
    logit       Float32,
    positive    UInt8
)
ENGINE = MergeTree
ORDER BY (session_id, round, item_id);

CREATE TABLE IF NOT EXISTS audit_predictors
(
    session_id  String,
    round       UInt32,
    items       UInt64,                   -- rows scored
    pv_a        Float64,                  -- pv = sigmoid(pv_a * logit + pv_b)
    pv_b        Float64,
    estimate    String,                   -- JSON; '' when there is none yet
    created     DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created)
ORDER BY (session_id, round);

ALTER TABLE audit_draws
    ADD COLUMN IF NOT EXISTS design_round Int64 DEFAULT -1,
    ADD COLUMN IF NOT EXISTS pv_a Float64 DEFAULT 1,
    ADD COLUMN IF NOT EXISTS pv_b Float64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS floor Float64 DEFAULT 1,
    ADD COLUMN IF NOT EXISTS design_sum Float64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS weight Float64 DEFAULT 1 / greatest(pool, 1),
    ADD COLUMN IF NOT EXISTS normalizer Float64 DEFAULT (pool - position) / greatest(pool, 1),
    ADD COLUMN IF NOT EXISTS items UInt64 DEFAULT 0;
