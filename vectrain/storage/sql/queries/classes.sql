-- Multi-class sessions (vectrain/labeling/multiclass/). Session and round rows share the tables
-- of binary sessions (sql/schema/015_classes.sql adds their class columns); every item scored by
-- a round is in class_scores; the published classifier is built by vectrain/storage/vectorsql/classes.py.

-- name: insert_session
INSERT INTO sessions (id, dataset, name, source, prompt, examples, negatives, init_weights, audit_rate, version,
                      classes, labelset, class_prior)
VALUES ({id:String}, {dataset:String}, {name:String}, {source:String}, '', {examples:Array(String)}, [], [],
        {audit_rate:Float32}, {version:UInt64}, {classes:Array(String)}, {labelset:String},
        {class_prior:Array(Array(Float32))})

-- name: prior
SELECT class_prior FROM sessions FINAL WHERE id = {id:String} AND deleted = 0

-- name: insert_round
INSERT INTO rounds (session_id, round, mode, weights, bias, threshold, metrics, biases, active, claimant)
VALUES ({session_id:String}, {round_no:UInt32}, {mode:String}, {weights:Array(Float32)}, 0, 0, {metrics:String},
        {biases:Array(Float32)}, {active:Array(UInt8)}, {claimant:String})

-- name: round
SELECT round, mode, weights, biases, active, metrics, created
FROM rounds FINAL
WHERE session_id = {session_id:String} AND round = {round_no:UInt32}

-- name: latest_round
SELECT max(round) AS round, count() AS rounds FROM rounds FINAL WHERE session_id = {session_id:String}

-- name: label_counts
SELECT class, count() AS n
FROM labels FINAL
WHERE session_id = {session_id:String} AND removed = 0
GROUP BY class
ORDER BY class

-- name: training_labels
-- The labels a round trains on: audit labels are held out, they measure the classifier.
SELECT item_id, class
FROM labels FINAL
WHERE session_id = {session_id:String} AND removed = 0 AND audit = 0
ORDER BY item_id

-- name: audit_labels
SELECT item_id, class
FROM labels FINAL
WHERE session_id = {session_id:String} AND removed = 0 AND audit = 1
ORDER BY item_id

-- name: vectors
-- Some items' urls, dataset labels and vectors.
SELECT id, url, label, vector
FROM {db:Identifier}.{items:Identifier}
WHERE id IN {ids:Array(String)}

-- name: insert_labels
-- A batch of class labels with their provenance, in one INSERT (all or nothing): as
-- audit.insert_labels, with the class (score is 1 for a class label).
INSERT INTO labels (session_id, item_id, score, class, version, first_version, source, audit, served_round,
                    served_batch, labeler)
SELECT {session_id:String}, n.item_id, 1, n.class, {version:UInt64},
       if(p.first > 0, p.first, {version:UInt64}),
       if(d.drawn > 0, 'audit', n.source),
       d.drawn > 0,
       if(d.drawn > 0, toInt64(d.drawn_round), n.round),
       d.drawn,
       {labeler:String}
FROM (SELECT tupleElement(t, 1) AS item_id, tupleElement(t, 2) AS class, tupleElement(t, 3) AS source,
             tupleElement(t, 4) AS round
      FROM (SELECT arrayJoin(arrayZip({ids:Array(String)}, {classes:Array(String)}, {sources:Array(String)},
                                      {rounds:Array(Int64)})) AS t)) AS n
LEFT JOIN (SELECT item_id, if(first_version > 0, first_version, version) AS first
           FROM labels FINAL
           WHERE session_id = {session_id:String} AND item_id IN {ids:Array(String)} AND removed = 0) AS p
ON n.item_id = p.item_id
LEFT JOIN (SELECT item_id, min(batch) AS drawn, argMin(round, batch) AS drawn_round
           FROM audit_draws
           WHERE session_id = {session_id:String} AND item_id IN {ids:Array(String)}
           GROUP BY item_id) AS d
ON n.item_id = d.item_id

-- name: labels
SELECT item_id, class, labeled, source, audit, served_round, labeler
FROM labels FINAL
WHERE session_id = {session_id:String} AND removed = 0
ORDER BY item_id

-- name: smallest_margins
-- The unlabeled items a round could least decide between two classes: a range read of the
-- table's order.
SELECT item_id AS id, class, score, margin
FROM class_scores
WHERE session_id = {session_id:String} AND round = {round_no:UInt32}
  AND item_id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)
ORDER BY margin, item_id
LIMIT {k:UInt32}

-- name: class_tops
-- Each of some classes' k most confident unlabeled items: range reads of the by_class projection
-- (one query with one NOT IN set: a UNION ALL of a query per class took about 20 ms a class).
SELECT item_id AS id, class, score, margin
FROM class_scores
WHERE session_id = {session_id:String} AND round = {round_no:UInt32} AND class IN {classes:Array(String)}
  AND item_id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)
ORDER BY class, score DESC, item_id
LIMIT {k:UInt32} BY class

-- name: rows_at
-- Unlabeled rows at uniform random (part, offset) positions of the items table: reads only the
-- granules that hold them.
SELECT id, url, label, vector, _part AS part, _part_offset AS offset
FROM {db:Identifier}.{items:Identifier}
WHERE (_part, _part_offset) IN {picks:Array(Tuple(String, UInt64))}
  AND id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)

-- name: unlabeled_sample
-- k unlabeled items in a pseudo-random order fixed by the salt: when nearly everything is labeled.
SELECT id
FROM {db:Identifier}.{items:Identifier}
WHERE id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)
ORDER BY sipHash64(id, {salt:String})
LIMIT {k:UInt32}

-- name: audit_draw
-- k items drawn uniformly at random from those neither labeled nor drawn before (audit.draw's
-- rule, ids only); `pool`: how many items the draw was uniform over.
SELECT id,
       (SELECT count() FROM {db:Identifier}.{items:Identifier}
        WHERE id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)
          AND id NOT IN (SELECT item_id FROM audit_draws WHERE session_id = {session_id:String})) AS pool
FROM {db:Identifier}.{items:Identifier}
WHERE id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)
  AND id NOT IN (SELECT item_id FROM audit_draws WHERE session_id = {session_id:String})
ORDER BY sipHash64(id, {salt:String})
LIMIT {k:UInt32}

-- name: latest_scored
-- The latest round whose scoring finished, and how many rows it wrote.
SELECT round, max(items) AS items FROM class_scored WHERE session_id = {session_id:String}
GROUP BY round ORDER BY round DESC LIMIT 1

-- name: round_scored
-- A round's finished scoring (items: 0 when none) and the rows its partition holds now: the
-- round is whole when they are equal.
SELECT (SELECT max(items) FROM class_scored WHERE session_id = {session_id:String} AND round = {round_no:UInt32})
           AS items,
       (SELECT count() FROM class_scores WHERE session_id = {session_id:String} AND round = {round_no:UInt32})
           AS stored

-- name: stored_rounds
SELECT DISTINCT round FROM class_scores WHERE session_id = {session_id:String}

-- name: drop_round
ALTER TABLE class_scores DROP PARTITION ({session_id:String}, {round_no:UInt32})

-- name: insert_scored
INSERT INTO class_scored (session_id, round, items, seconds)
VALUES ({session_id:String}, {round_no:UInt32}, {items:UInt64}, {seconds:Float64})

-- name: class_counts
SELECT class, count() AS n
FROM class_scores
WHERE session_id = {session_id:String} AND round = {round_no:UInt32}
GROUP BY class

-- name: insert_applied
INSERT INTO class_applied (session_id, round, items, classes, counts)
VALUES ({session_id:String}, {round_no:UInt32}, {items:UInt64}, {classes:Array(String)}, {counts:Array(UInt64)})

-- name: applied
SELECT round, argMax(items, created) AS items, argMax(classes, created) AS classes, argMax(counts, created) AS counts
FROM class_applied
WHERE session_id = {session_id:String}
GROUP BY round
ORDER BY round

-- name: predictions_by_margin
SELECT item_id AS id, class, score, margin
FROM class_scores
WHERE session_id = {session_id:String} AND round = {round_no:UInt32}
ORDER BY margin, item_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}

-- name: predictions_of_class
-- A class's items, most confident first: a range read of the by_class projection.
SELECT item_id AS id, class, score, margin
FROM class_scores
WHERE session_id = {session_id:String} AND round = {round_no:UInt32} AND class = {class:String}
ORDER BY score DESC, item_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}

-- name: predicted
-- A round's prediction of some items.
SELECT item_id AS id, class, score, margin
FROM class_scores
WHERE session_id = {session_id:String} AND round = {round_no:UInt32} AND item_id IN {ids:Array(String)}

-- name: export_page_end
SELECT max(item_id) FROM (
    SELECT item_id FROM class_scores
    WHERE session_id = {session_id:String} AND round = {round_no:UInt32} AND item_id > {after:String}
    ORDER BY item_id LIMIT {rows:UInt32}
)

-- name: export_page
-- A page of a session's applied predictions with its labels (NULL where an item has none; the
-- query runs with join_use_nulls = 1).
SELECT p.item_id AS id, l.class AS label, p.class AS class, p.score AS score, p.margin AS margin,
       {round_no:UInt32} AS round
FROM (SELECT item_id, class, score, margin FROM class_scores
      WHERE session_id = {session_id:String} AND round = {round_no:UInt32}
        AND item_id > {after:String} AND item_id <= {last:String}) AS p
LEFT JOIN (SELECT item_id, class FROM labels FINAL
           WHERE session_id = {session_id:String} AND removed = 0
             AND item_id > {after:String} AND item_id <= {last:String}) AS l
ON p.item_id = l.item_id
ORDER BY id

-- name: export_unscored_labels
-- Labels of items without a prediction in round {round_no} (every label when {applied} is 0).
SELECT id, label, CAST(NULL AS Nullable(String)) AS class, CAST(NULL AS Nullable(Float32)) AS score,
       CAST(NULL AS Nullable(Float32)) AS margin, CAST(NULL AS Nullable(UInt32)) AS round
FROM (SELECT item_id AS id, class AS label FROM labels FINAL
      WHERE session_id = {session_id:String} AND removed = 0
        AND ({applied:UInt8} = 0 OR item_id NOT IN (
            SELECT item_id FROM class_scores WHERE session_id = {session_id:String} AND round = {round_no:UInt32})))
ORDER BY id
