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
-- k items drawn from those neither labeled nor drawn before, with probability proportional to the
-- design weight q = floor / pool + (1 - floor) sqrt(pv (1 - pv)) / design_sum (uniform without a
-- design round), one after another without replacement: Efraimidis-Spirakis keys log(u) / q
-- with u from a keyed hash, so with a secret salt nobody can predict or steer the draw. The key
-- order is the draw order. pv = sigmoid(pv_a * logit + pv_b) from the design round's scores.
-- `total`: the weights summed over the pool as the engine sums them (1 up to rounding): each
-- draw's probability is its weight over total minus the batch's earlier weights.
SELECT id, weight, sum(weight) OVER () AS total, pool, design_sum
FROM (
    SELECT id, pool, design_sum,
           if(design_sum > 0, {floor:Float64} / pool + (1 - {floor:Float64}) * g / design_sum, 1 / pool) AS weight
    FROM (
        SELECT u.id AS id, if(s.pv > 0, sqrt(s.pv * (1 - s.pv)), 0) AS g,
               count() OVER () AS pool, sum(g) OVER () AS design_sum
        FROM (SELECT id FROM {db:Identifier}.{items:Identifier}
              WHERE id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)
                AND id NOT IN (SELECT item_id FROM audit_draws WHERE session_id = {session_id:String})) AS u
        LEFT JOIN (SELECT item_id, 1 / (1 + exp(-({pv_a:Float64} * logit + {pv_b:Float64}))) AS pv
                   FROM audit_scores
                   WHERE session_id = {session_id:String} AND round = {design_round:Int64}
                   LIMIT 1 BY item_id) AS s
               ON s.item_id = u.id
    )
)
ORDER BY log((sipHash64(id, {salt:String}) + 0.5) / pow(2, 64)) / weight DESC
LIMIT {k:UInt32}

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
INSERT INTO labels (session_id, item_id, score, version, first_version, source, audit, served_round, served_batch,
                    labeler)
SELECT {session_id:String}, n.item_id, n.score, {version:UInt64},
       if(p.first > 0, p.first, {version:UInt64}),
       if(d.drawn > 0, 'audit', n.source),
       d.drawn > 0,
       if(d.drawn > 0, toInt64(d.drawn_round), n.round),
       d.drawn,
       {labeler:String}
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
-- A session's audit labels and all its labels.
SELECT countIf(audit = 1) AS audited, count() AS labeled
FROM labels FINAL
WHERE session_id = {session_id:String} AND removed = 0

-- name: pending_count
SELECT uniqExact(item_id)
FROM audit_draws
WHERE session_id = {session_id:String}
  AND item_id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)

-- name: draws
-- A session's audit draws in the order drawn, with their design and their live label (if any).
SELECT d.item_id AS item_id, d.batch AS batch, d.position AS position, d.round AS round,
       d.design_round AS design_round, d.pv_a AS pv_a, d.pv_b AS pv_b, d.floor AS floor,
       d.design_sum AS design_sum, d.pool AS pool, d.weight AS weight, d.normalizer AS normalizer,
       d.items AS items, l.score AS score, l.item_id != '' AS labeled
FROM (SELECT * FROM audit_draws WHERE session_id = {session_id:String}) AS d
LEFT JOIN (SELECT item_id, score FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0) AS l
       ON l.item_id = d.item_id
ORDER BY d.batch, d.position

-- name: live_labels
-- A session's live labels: the known part of the estimate.
SELECT item_id, score, audit
FROM labels FINAL
WHERE session_id = {session_id:String} AND removed = 0
ORDER BY item_id

-- name: scores_of_round
-- A round's per-item logits and decisions, in id order (the order of the items table's blocks).
SELECT item_id, logit, positive
FROM audit_scores
WHERE session_id = {session_id:String} AND round = {round:UInt32}
ORDER BY item_id

-- name: logits_of_round
SELECT logit
FROM audit_scores
WHERE session_id = {session_id:String} AND round = {round:UInt32}
ORDER BY item_id

-- name: predictors
-- The rounds whose scores are complete, newest first, with their estimate.
SELECT round, items, pv_a, pv_b, estimate
FROM audit_predictors FINAL
WHERE session_id = {session_id:String}
ORDER BY round DESC
LIMIT {limit:UInt32}

-- name: design
-- The newest complete predictor at or before a round: it weights the draws made meanwhile.
SELECT round, pv_a, pv_b
FROM audit_predictors FINAL
WHERE session_id = {session_id:String} AND round <= {round:UInt32}
ORDER BY round DESC
LIMIT 1

-- name: has_predictor
SELECT count() > 0 FROM audit_predictors WHERE session_id = {session_id:String} AND round = {round:UInt32}

-- name: delete_scores
-- A round's scores written by a background step that failed half way (it runs again).
DELETE FROM audit_scores WHERE session_id = {session_id:String} AND round = {round:UInt32}

-- name: has_draws
SELECT count() > 0 FROM audit_draws WHERE session_id = {session_id:String}

-- name: insert_predictor
INSERT INTO audit_predictors (session_id, round, items, pv_a, pv_b, estimate)
VALUES ({session_id:String}, {round:UInt32}, {items:UInt64}, {pv_a:Float64}, {pv_b:Float64}, {estimate:String})
