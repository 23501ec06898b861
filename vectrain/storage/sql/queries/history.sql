-- A session's label history, for undo (sql/schema/014_label_history.sql; vectrain/labeling/history.py).

-- name: record
-- One action: each item's live label before it (had = 0 where there was none) with its class and who
-- gave it, and the acting labeler's own answer before it (label_votes), in one INSERT.
INSERT INTO label_history (session_id, action, kind, labeler, item_id, had, score, class, source, audit,
                           served_round, served_batch, first_version, labeled, replaced_by, own_had, own_score,
                           own_class)
SELECT {session_id:String}, {action:UInt64}, {kind:String}, {labeler:String}, n.item_id, l.live, l.score, l.class,
       l.source, l.audit, l.served_round, l.served_batch, l.first_version, l.labeled, l.labeler, v.had, v.score,
       v.class
FROM (SELECT arrayJoin({ids:Array(String)}) AS item_id) AS n
LEFT JOIN (SELECT item_id, 1 AS live, score, class, source, audit, served_round, served_batch, first_version,
                  labeled, labeler
           FROM labels FINAL
           WHERE session_id = {session_id:String} AND item_id IN {ids:Array(String)} AND removed = 0) AS l
ON n.item_id = l.item_id
LEFT JOIN (SELECT item_id, 1 AS had, score, class
           FROM label_votes FINAL
           WHERE session_id = {session_id:String} AND item_id IN {ids:Array(String)}
             AND labeler = {labeler:String} AND removed = 0) AS v
ON n.item_id = v.item_id

-- name: undoable
-- A labeler's newest actions not undone yet, newest first (the first is what their undo takes back).
SELECT action, any(kind) AS what, count() AS items
FROM label_history
WHERE session_id = {session_id:String} AND kind != 'undo' AND labeler = {labeler:String}
  AND action NOT IN (SELECT undoes FROM label_history WHERE session_id = {session_id:String} AND kind = 'undo')
GROUP BY action
ORDER BY action DESC
LIMIT {limit:UInt32}

-- name: before
-- The labels an action replaced (with their class, provenance and labeler), and the actor's own
-- answers before it. `kept`: another labeler changed the item's label since, in an action not undone:
-- that newer label stays. `stands`: the replaced label's labeler still gives that answer (a label
-- whose labeler has since taken it back is not restored).
SELECT h.item_id AS item_id, h.had AS had, h.score AS score, h.class AS class, h.source AS source,
       h.audit AS audit, h.served_round AS served_round, h.served_batch AS served_batch,
       h.first_version AS first_version, h.labeled AS labeled, h.replaced_by AS replaced_by,
       h.own_had AS own_had, h.own_score AS own_score, h.own_class AS own_class,
       h.item_id IN (SELECT item_id FROM label_history
                     WHERE session_id = {session_id:String} AND action > {action:UInt64} AND kind != 'undo'
                       AND labeler != {labeler:String}
                       AND action NOT IN (SELECT undoes FROM label_history
                                          WHERE session_id = {session_id:String} AND kind = 'undo')) AS kept,
       h.replaced_by = {labeler:String}
         OR (h.item_id, h.replaced_by, h.score, h.class) IN (SELECT item_id, labeler, score, class
                                                             FROM label_votes FINAL
                                                             WHERE session_id = {session_id:String}
                                                               AND removed = 0) AS stands
FROM label_history AS h
WHERE h.session_id = {session_id:String} AND h.action = {action:UInt64} AND h.kind != 'undo'
ORDER BY h.item_id

-- name: mark_undone
INSERT INTO label_history (session_id, action, kind, undoes, labeler, item_id)
VALUES ({session_id:String}, {version:UInt64}, 'undo', {action:UInt64}, {labeler:String}, '')
