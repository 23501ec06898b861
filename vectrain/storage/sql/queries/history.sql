-- A session's label history, for undo (sql/schema/014_label_history.sql; vectrain/labeling/history.py).

-- name: record
-- One action: each item's live label before it (had = 0 where there was none), in one INSERT.
INSERT INTO label_history (session_id, action, kind, item_id, had, score, class, source, audit, served_round,
                           served_batch, first_version, labeled)
SELECT {session_id:String}, {action:UInt64}, {kind:String}, n.item_id, l.live, l.score, l.class, l.source, l.audit,
       l.served_round, l.served_batch, l.first_version, l.labeled
FROM (SELECT arrayJoin({ids:Array(String)}) AS item_id) AS n
LEFT JOIN (SELECT item_id, 1 AS live, score, class, source, audit, served_round, served_batch, first_version, labeled
           FROM labels FINAL
           WHERE session_id = {session_id:String} AND item_id IN {ids:Array(String)} AND removed = 0) AS l
ON n.item_id = l.item_id

-- name: undoable
-- The newest actions not undone yet, newest first (the first is what undo takes back).
SELECT action, any(kind) AS what, count() AS items
FROM label_history
WHERE session_id = {session_id:String} AND kind != 'undo'
  AND action NOT IN (SELECT undoes FROM label_history WHERE session_id = {session_id:String} AND kind = 'undo')
GROUP BY action
ORDER BY action DESC
LIMIT {limit:UInt32}

-- name: before
-- The labels an action replaced.
SELECT item_id, had, score, class
FROM label_history
WHERE session_id = {session_id:String} AND action = {action:UInt64} AND kind != 'undo'
ORDER BY item_id

-- name: restore
-- Undo: the labels an action replaced, written again as the newest versions (with their own
-- provenance and time); an item that had no label gets a removal.
INSERT INTO labels (session_id, item_id, score, class, version, removed, source, audit, served_round, served_batch,
                    first_version, labeled)
SELECT session_id, item_id, score, class, {version:UInt64}, 1 - had, source, audit, served_round, served_batch,
       first_version, if(had = 1, labeled, now64(6))
FROM label_history
WHERE session_id = {session_id:String} AND action = {action:UInt64} AND kind != 'undo'

-- name: mark_undone
INSERT INTO label_history (session_id, action, kind, undoes, item_id)
VALUES ({session_id:String}, {version:UInt64}, 'undo', {action:UInt64}, '')
