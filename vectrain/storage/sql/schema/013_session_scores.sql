-- Every row's score under a session's round, ordered by score (vectrain/labeling/scoring.py).
--
--   session_scores  dot(weights, v) + bias of every row of the session's dataset under one round,
--                   written by one INSERT ... SELECT after the round is trained. Next batches read
--                   a range of it (the rows nearest the threshold, the top), so they cost
--                   milliseconds at any size. One partition per scoring (session, round, version),
--                   dropped at once when two newer ones of the session are complete; a round is
--                   scored again (a new version) when rows were loaded after it.
--   scored_rounds   a scoring that is complete: written after its INSERT ... SELECT, so a reader
--                   never ranges over a round half scored. `rows`: the rows scored.

CREATE TABLE IF NOT EXISTS session_scores
(
    session_id  String,
    round       UInt32,
    version     UInt64,                   -- nanoseconds when the scoring started
    score       Float32,
    item_id     String
)
ENGINE = MergeTree
PARTITION BY (session_id, round, version)
ORDER BY (session_id, round, version, score, item_id);

CREATE TABLE IF NOT EXISTS scored_rounds
(
    session_id  String,
    round       UInt32,
    version     UInt64,
    rows        UInt64,
    seconds     Float32,
    scored      DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (session_id, round, version);
