-- Multi-class sessions (vectrain/labeling/multiclass/): one pass over many classes.
--
--   sessions       classes: the class names in key order ([] for a binary session); labelset: the
--                  label set the classes' start vectors came from (''); class_prior: per class its
--                  start vector (unit), [] for a class that starts unknown
--   labels         class: the class a label gives ('' in a binary session; score is then 1), and in
--                  label_history the class an action replaced, which undo restores
--   rounds         weights holds the classes' weight rows one after another (classes x dim);
--                  biases one per class; active: 1 for a class the round can predict (it has a
--                  start vector or labels), 0 for one it knows nothing about
--   class_scores   every item scored by one round: its top class, that class's probability
--                  (score) and the margin to the runner-up (p1 - p2). Ordered by margin, so the
--                  smallest margins are a range read; the projection by_class orders each class's
--                  rows by score, so a class's most confident items are a range read too. One
--                  partition per (session, round): rounds superseded and not applied are dropped
--   class_scored   a round's scoring finished: `items` rows were written (the partition is whole)
--   class_applied  a round applied: its class counts, for paging its predictions

ALTER TABLE sessions
    ADD COLUMN IF NOT EXISTS classes Array(String) DEFAULT [],
    ADD COLUMN IF NOT EXISTS labelset String DEFAULT '',
    ADD COLUMN IF NOT EXISTS class_prior Array(Array(Float32)) DEFAULT [];

ALTER TABLE labels ADD COLUMN IF NOT EXISTS class String DEFAULT '';

ALTER TABLE label_history ADD COLUMN IF NOT EXISTS class String DEFAULT '';

ALTER TABLE rounds
    ADD COLUMN IF NOT EXISTS biases Array(Float32) DEFAULT [],
    ADD COLUMN IF NOT EXISTS active Array(UInt8) DEFAULT [];

CREATE TABLE IF NOT EXISTS class_scores
(
    session_id  String,
    round       UInt32,
    item_id     String,
    class       LowCardinality(String),
    score       Float32,                  -- softmax probability of the top class
    margin      Float32,                  -- top probability minus the runner-up's
    PROJECTION by_class (SELECT * ORDER BY session_id, round, class, score)
)
ENGINE = MergeTree
PARTITION BY (session_id, round)
ORDER BY (session_id, round, margin, item_id);

CREATE TABLE IF NOT EXISTS class_scored
(
    session_id  String,
    round       UInt32,
    items       UInt64,
    seconds     Float64,
    created     DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (session_id, round);

CREATE TABLE IF NOT EXISTS class_applied
(
    session_id  String,
    round       UInt32,
    items       UInt64,
    classes     Array(String),
    counts      Array(UInt64),
    created     DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (session_id, round);
