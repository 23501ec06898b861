-- Audit sampling in sessions: random audit draws, label provenance, and what the estimate of a
-- session's classifier reads (vectrain/labeling/audit.py). Weights and thresholds are bound as
-- parameters; a classifier's decision is `dotProduct(vector, w) + b > t`, as `apply` stores it.

-- name: pending
-- Audit draws of a session still waiting for their label, oldest first: served again until labeled.
SELECT item_id, min(batch) AS drawn, argMin(position, batch) AS place
FROM audit_draws
WHERE session_id = {session_id:String}
  AND item_id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)
GROUP BY item_id
ORDER BY drawn, place, item_id

-- name: draw
-- k items drawn uniformly at random from those neither labeled nor drawn before, in the order of a
-- keyed hash: with a secret salt nobody can predict or steer the draw. The draw reads ids only;
-- vectors are read for the k drawn items. `pool`: how many items the draw was uniform over.
SELECT id, url, label, dotProduct(vector, {w:Array(Float32)}) + {b:Float64} AS score,
       (SELECT count() FROM {db:Identifier}.{items:Identifier}
        WHERE id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)
          AND id NOT IN (SELECT item_id FROM audit_draws WHERE session_id = {session_id:String})) AS pool
FROM {db:Identifier}.{items:Identifier}
WHERE id IN (
    SELECT id FROM {db:Identifier}.{items:Identifier}
    WHERE id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)
      AND id NOT IN (SELECT item_id FROM audit_draws WHERE session_id = {session_id:String})
    ORDER BY sipHash64(id, {salt:String})
    LIMIT {k:UInt32}
)
ORDER BY sipHash64(id, {salt:String})

-- name: scored
-- The classifier's score of some items (audit draws served again).
SELECT id, url, label, dotProduct(vector, {w:Array(Float32)}) + {b:Float64} AS score
FROM {db:Identifier}.{items:Identifier}
WHERE id IN {ids:Array(String)}

-- name: drawn_among
SELECT DISTINCT item_id FROM audit_draws
WHERE session_id = {session_id:String} AND item_id IN {ids:Array(String)}

-- name: insert_labels
-- A batch of labels with their provenance, in one INSERT (all or nothing). An item ever drawn for
-- the audit in this session is an audit label whatever path labels it, and only such an item is;
-- other labels keep the source and round the client reports (the strategy that served them, or
-- user). first_version survives re-labels, so the estimate knows which labels came before which draw.
INSERT INTO labels (session_id, item_id, score, version, first_version, source, audit, served_round, served_batch)
SELECT {session_id:String}, n.item_id, n.score, {version:UInt64},
       if(p.first > 0, p.first, {version:UInt64}),
       if(d.drawn > 0, 'audit', n.source),
       d.drawn > 0,
       if(d.drawn > 0, toInt64(d.drawn_round), n.round),
       d.drawn
FROM (SELECT tupleElement(t, 1) AS item_id, tupleElement(t, 2) AS score, tupleElement(t, 3) AS source,
             tupleElement(t, 4) AS round
      FROM (SELECT arrayJoin(arrayZip({ids:Array(String)}, {scores:Array(Float32)}, {sources:Array(String)},
                                      {rounds:Array(Int64)})) AS t)) AS n
LEFT JOIN (SELECT item_id, if(first_version > 0, first_version, version) AS first
           FROM labels FINAL
           WHERE session_id = {session_id:String} AND item_id IN {ids:Array(String)} AND removed = 0) AS p
       ON p.item_id = n.item_id
LEFT JOIN (SELECT item_id, min(batch) AS drawn, argMin(round, batch) AS drawn_round
           FROM audit_draws
           WHERE session_id = {session_id:String} AND item_id IN {ids:Array(String)}
           GROUP BY item_id) AS d
       ON d.item_id = n.item_id

-- name: counts
SELECT countIf(audit = 1) AS audited, count() AS labeled
FROM labels FINAL
WHERE session_id = {session_id:String} AND removed = 0

-- name: pending_count
SELECT uniqExact(item_id)
FROM audit_draws
WHERE session_id = {session_id:String}
  AND item_id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)

-- name: recent_rounds
SELECT round, weights, bias, threshold
FROM rounds FINAL
WHERE session_id = {session_id:String}
ORDER BY round DESC
LIMIT {limit:UInt32}

-- name: predicted_counts
-- The items of a dataset, and how many each classifier calls positive: one scan for all of them.
SELECT count() AS items,
       sumForEach(arrayMap((w, b, t) -> toUInt64(dotProduct(vector, w) + b > t),
                           {weights:Array(Array(Float32))}, {biases:Array(Float64)}, {thresholds:Array(Float64)}))
           AS positives
FROM {db:Identifier}.{items:Identifier}

-- name: labeled_decisions
-- A session's live labels with their provenance (audit draws with their batch and position) and
-- each classifier's decision on the labeled items, computed as predicted_counts computes it.
SELECT l.item_id AS item_id, l.score AS score, l.audit AS audit, l.served_batch AS batch, l.first AS first,
       d.position AS position,
       arrayMap((w, b, t) -> dotProduct(i.vector, w) + b > t,
                {weights:Array(Array(Float32))}, {biases:Array(Float64)}, {thresholds:Array(Float64)}) AS decisions
FROM (SELECT item_id, score, audit, served_batch, if(first_version > 0, first_version, version) AS first
      FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0) AS l
INNER JOIN (SELECT id, vector FROM {db:Identifier}.{items:Identifier}
            WHERE id IN (SELECT item_id FROM labels WHERE session_id = {session_id:String})) AS i
        ON i.id = l.item_id
LEFT JOIN (SELECT item_id, batch, position FROM audit_draws WHERE session_id = {session_id:String}) AS d
       ON d.item_id = l.item_id AND d.batch = l.served_batch
ORDER BY l.item_id

-- name: unseen
-- The cross-fitted decisions of rounds' training labels (vectrain/labeling/training.py's cross-validation).
SELECT round, item_id, positive
FROM unseen_decisions
WHERE session_id = {session_id:String} AND round IN {rounds:Array(UInt32)}
