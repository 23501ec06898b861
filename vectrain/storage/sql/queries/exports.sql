-- Exports, read in pages of the primary key (`id > after AND id <= last`): every page is a
-- range read of the table's order, and memory stays bounded by one page on any engine (on chDB
-- a streamed Arrow result is materialized whole by the driver).

-- name: items_page_end
-- The last id of the next page of at most {rows} ids after {after} ('' when there is none).
SELECT max(id) FROM (
    SELECT id FROM {db:Identifier}.{items:Identifier} WHERE id > {after:String} ORDER BY id LIMIT {rows:UInt32}
)

-- name: items_page
SELECT id, url, label, split, meta
FROM {db:Identifier}.{items:Identifier}
WHERE id > {after:String} AND id <= {last:String}
ORDER BY id

-- name: items_page_vectors
SELECT id, url, label, split, meta, vector
FROM {db:Identifier}.{items:Identifier}
WHERE id > {after:String} AND id <= {last:String}
ORDER BY id

-- name: predictions_page_end
SELECT max(item_id) FROM (
    SELECT item_id FROM predictions
    WHERE session_id = {session_id:String} AND round = {round_no:UInt32} AND item_id > {after:String}
    ORDER BY item_id LIMIT {rows:UInt32}
)

-- name: session_page
-- A page of a session's latest predictions with its labels (NULL where an item has none; the
-- query runs with join_use_nulls = 1).
SELECT p.item_id AS id, l.score AS label, p.score AS score, p.positive AS positive, {round_no:UInt32} AS round
FROM (SELECT item_id, score, positive FROM predictions FINAL
      WHERE session_id = {session_id:String} AND round = {round_no:UInt32}
        AND item_id > {after:String} AND item_id <= {last:String}) AS p
LEFT JOIN (SELECT item_id, score FROM labels FINAL
           WHERE session_id = {session_id:String} AND removed = 0
             AND item_id > {after:String} AND item_id <= {last:String}) AS l
ON p.item_id = l.item_id
ORDER BY id

-- name: session_unscored_labels
-- Labels of items without a prediction in round {round_no} (every label when {applied} is 0).
SELECT id, label, CAST(NULL AS Nullable(Float32)) AS score, CAST(NULL AS Nullable(UInt8)) AS positive,
       CAST(NULL AS Nullable(UInt32)) AS round
FROM (SELECT item_id AS id, score AS label FROM labels FINAL
      WHERE session_id = {session_id:String} AND removed = 0
        AND ({applied:UInt8} = 0 OR item_id NOT IN (
            SELECT item_id FROM predictions WHERE session_id = {session_id:String} AND round = {round_no:UInt32})))
ORDER BY id
