-- Sessions, labels, rounds and predictions. Vector SQL (scores, next batches, the
-- published classifier) is built by vectrain/storage/vectorsql/; these are the plain queries.

-- name: insert
INSERT INTO sessions (id, dataset, name, source, prompt, examples, negatives, init_weights, audit_rate, version)
VALUES ({id:String}, {dataset:String}, {name:String}, {source:String}, {prompt:String},
        {examples:Array(String)}, {negatives:Array(String)}, {init_weights:Array(Float32)}, {audit_rate:Float32},
        {version:UInt64})

-- name: get
SELECT id, dataset, name, source, prompt, examples, negatives, init_weights, audit_rate, created, classes, labelset
FROM sessions FINAL
WHERE id = {id:String} AND deleted = 0

-- name: by_name
SELECT id FROM sessions FINAL WHERE name = {name:String} AND deleted = 0

-- name: rename
-- A newer version of the session's row with another name; everything else as it was.
INSERT INTO sessions (id, dataset, name, source, prompt, examples, negatives, init_weights, audit_rate, created,
                      deleted, version, classes, labelset, class_prior)
SELECT id, dataset, {name:String}, source, prompt, examples, negatives, init_weights, audit_rate, created, 0,
       {version:UInt64}, classes, labelset, class_prior
FROM sessions FINAL
WHERE id = {id:String} AND deleted = 0

-- name: list
SELECT s.id AS id, s.dataset AS dataset, s.name AS name, s.source AS source, s.created AS created,
       s.classes AS classes
FROM sessions AS s FINAL
WHERE s.deleted = 0
ORDER BY s.created

-- name: label_counts
SELECT count() AS labeled, countIf(score > 0) AS positives, countIf(score < 0) AS negatives,
       countIf(score = 0) AS neutral
FROM labels FINAL
WHERE session_id = {session_id:String} AND removed = 0

-- name: labels
SELECT item_id, score, labeled, source, audit, served_round
FROM labels FINAL
WHERE session_id = {session_id:String} AND removed = 0
ORDER BY item_id

-- name: labels_with_items
-- A session's labels with each item's own label in the dataset.
SELECT l.item_id AS item_id, l.score AS score, l.labeled AS labeled, l.source AS source, l.audit AS audit,
       l.served_round AS served_round, l.labeler AS labeler, i.label AS label
FROM (SELECT item_id, score, labeled, source, audit, served_round, labeler FROM labels FINAL
      WHERE session_id = {session_id:String} AND removed = 0) AS l
LEFT JOIN (SELECT id, label FROM {db:Identifier}.{items:Identifier}
           WHERE id IN (SELECT item_id FROM labels WHERE session_id = {session_id:String})) AS i
ON l.item_id = i.id
ORDER BY l.item_id

-- name: scored_items
-- Some items under a round's classifier: score dot(w, v) + b, as next batches and apply compute it.
SELECT id, label, dotProduct(vector, {w:Array(Float32)}) + {b:Float64} AS score
FROM {db:Identifier}.{items:Identifier}
WHERE id IN {ids:Array(String)}

-- name: labels_of_items
SELECT item_id, score, class
FROM labels FINAL
WHERE session_id = {session_id:String} AND item_id IN {ids:Array(String)} AND removed = 0

-- name: label
SELECT item_id, score, labeled
FROM labels FINAL
WHERE session_id = {session_id:String} AND item_id = {item_id:String} AND removed = 0

-- name: labeled_vectors
-- Labels joined to their items' vectors, for training. Audit labels are held out: they measure
-- the classifier (vectrain/labeling/audit.py), which must not have seen them.
SELECT l.item_id AS item_id, l.score AS score, i.vector AS vector
FROM (SELECT item_id, score FROM labels FINAL
      WHERE session_id = {session_id:String} AND removed = 0 AND audit = 0) AS l
INNER JOIN (SELECT id, vector FROM {db:Identifier}.{items:Identifier}
            WHERE id IN (SELECT item_id FROM labels WHERE session_id = {session_id:String})) AS i
ON l.item_id = i.id
ORDER BY l.item_id

-- name: insert_round
INSERT INTO rounds (session_id, round, mode, weights, bias, threshold, metrics, claimant)
VALUES ({session_id:String}, {round_no:UInt32}, {mode:String}, {weights:Array(Float32)},
        {bias:Float64}, {threshold:Float64}, {metrics:String}, {claimant:String})

-- name: round_claimant
-- Who stored round {round_no} (the first insert of it: sql/schema/012_round_claims.sql).
SELECT claimant FROM rounds FINAL WHERE session_id = {session_id:String} AND round = {round_no:UInt32}

-- name: rounds
SELECT round, mode, bias, threshold, metrics, created
FROM rounds FINAL
WHERE session_id = {session_id:String}
ORDER BY round

-- name: round
SELECT round, mode, weights, bias, threshold, metrics, created
FROM rounds FINAL
WHERE session_id = {session_id:String} AND round = {round_no:UInt32}

-- name: latest_round
SELECT round, mode, weights, bias, threshold, metrics, created
FROM rounds FINAL
WHERE session_id = {session_id:String}
ORDER BY round DESC
LIMIT 1

-- name: predictions
SELECT item_id AS id, score, positive
FROM predictions FINAL
WHERE session_id = {session_id:String} AND round = {round_no:UInt32}
ORDER BY score DESC, item_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}

-- name: prediction_counts
SELECT round, count() AS items, countIf(positive = 1) AS positives
FROM predictions FINAL
WHERE session_id = {session_id:String}
GROUP BY round
ORDER BY round

-- name: state
-- What a next batch needs, in one round trip: the session, its latest round and its label count.
SELECT s.id AS id, s.dataset AS dataset, s.name AS name, s.audit_rate AS audit_rate, r.round AS round,
       r.mode AS mode, r.weights AS weights, r.bias AS bias, r.threshold AS threshold, r.metrics AS metrics,
       r.created AS created,
       (SELECT count() FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0) AS labeled
FROM (SELECT id, dataset, name, audit_rate FROM sessions FINAL WHERE id = {session_id:String} AND deleted = 0) AS s
INNER JOIN (SELECT session_id, round, mode, weights, bias, threshold, metrics, created
            FROM rounds FINAL WHERE session_id = {session_id:String} ORDER BY round DESC LIMIT 1) AS r
ON r.session_id = s.id
