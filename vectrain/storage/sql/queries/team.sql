-- Labelers of a session: their own answers beside the session's labels, per-labeler counts, and
-- the items two labelers both answered (sql/schema/020_labelers.sql; vectrain/labeling/team.py).

-- name: shared_answers
-- Every live answer of the items that two or more labelers answered.
SELECT item_id, labeler, score, class
FROM label_votes FINAL
WHERE session_id = {session_id:String} AND removed = 0
  AND item_id IN (SELECT item_id FROM label_votes FINAL
                  WHERE session_id = {session_id:String} AND removed = 0
                  GROUP BY item_id HAVING count() > 1)
ORDER BY item_id, labeler

-- name: answer_counts
-- Per labeler: their answers, a binary session's by sign, a multi-class session's by class.
SELECT labeler, count() AS answers, countIf(class = '' AND score > 0) AS positives,
       countIf(class = '' AND score < 0) AS negatives, countIf(class = '' AND score = 0) AS neutral,
       sumMapIf([class], [toUInt64(1)], class != '') AS per_class
FROM label_votes FINAL
WHERE session_id = {session_id:String} AND removed = 0
GROUP BY labeler
ORDER BY labeler

-- name: label_counts
-- The session's labels by who gave them (the newest answer of each item).
SELECT labeler, count() AS labels
FROM labels FINAL
WHERE session_id = {session_id:String} AND removed = 0
GROUP BY labeler

-- name: session_labels_of
SELECT item_id, score, class, labeler
FROM labels FINAL
WHERE session_id = {session_id:String} AND item_id IN {ids:Array(String)} AND removed = 0
