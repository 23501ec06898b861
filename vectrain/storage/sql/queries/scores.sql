-- A session's scored rounds (sql/schema/013_session_scores.sql; vectrain/labeling/scoring.py and
-- candidates.py). The INSERT ... SELECT that scores every row is vector SQL: Dialect.score_rows.

-- name: window
-- The unlabeled rows whose score lies in [lo, hi]: a range of the primary key, so a read of the
-- granules that hold the window, whatever the table's size.
SELECT item_id, score
FROM session_scores
WHERE session_id = {session_id:String} AND round = {round_no:UInt32} AND version = {version:UInt64}
  AND score >= {lo:Float32} AND score <= {hi:Float32}
  AND item_id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)

-- name: sorted
-- Every score of a scoring, ascending (the table's order).
SELECT score
FROM session_scores
WHERE session_id = {session_id:String} AND round = {round_no:UInt32} AND version = {version:UInt64}
ORDER BY score

-- name: mark
INSERT INTO scored_rounds (session_id, round, version, rows, seconds)
VALUES ({session_id:String}, {round_no:UInt32}, {version:UInt64}, {rows:UInt64}, {seconds:Float32})

-- name: latest
SELECT round, version, rows, seconds
FROM scored_rounds FINAL
WHERE session_id = {session_id:String}
ORDER BY round DESC, version DESC
LIMIT 1

-- name: partitions
-- The scorings of a session with rows stored: (session_id, round, version) partitions.
SELECT DISTINCT partition_id, partition
FROM system.parts
WHERE database = {db:String} AND table = 'session_scores' AND active
  AND startsWith(partition, concat('(\'', {session_id:String}, '\','))

-- name: drop_partition
ALTER TABLE session_scores DROP PARTITION ID {partition_id:String}

-- name: at
-- The rows with these exact scores, in the table's order, each with whether it is labeled: rows
-- drawn by rank from the sorted scores (a uniform sample; a rank within a tie is the row at that
-- place in item_id order), each a point of the primary key, so the read touches their granules.
SELECT item_id, score,
       item_id IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0) AS labeled
FROM session_scores
WHERE session_id = {session_id:String} AND round = {round_no:UInt32} AND version = {version:UInt64}
  AND score IN {scores:Array(Float32)}
ORDER BY score, item_id
