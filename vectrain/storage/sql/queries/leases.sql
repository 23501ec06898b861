-- Leases of next batches to named labelers (sql/schema/020_labelers.sql; vectrain/labeling/leases.py).

-- name: live
-- One row: the session's next grant number, and its live leases (not ended, not labeled): each
-- item's holder under its newest grant, in the order they were handed out.
SELECT (SELECT if(count() = 0, 0, max(grant_no) + 1) FROM leases WHERE session_id = {session_id:String}) AS next_grant,
       l.items AS items, l.holders AS holders, l.untils AS untils, l.sources AS sources
FROM (SELECT groupArray(item_id) AS items, groupArray(holder) AS holders, groupArray(ends) AS untils,
             groupArray(source) AS sources
      FROM (SELECT item_id, argMax(holder, grant_no) AS holder, argMax(source, grant_no) AS source,
                   argMax(until, grant_no) AS ends,
                   max(grant_no) AS newest, argMax(position, grant_no) AS place
            FROM leases
            WHERE session_id = {session_id:String} AND until > {now:UInt64}
              AND item_id NOT IN (SELECT item_id FROM labels FINAL
                                  WHERE session_id = {session_id:String} AND removed = 0)
            GROUP BY item_id
            ORDER BY newest, place, item_id)) AS l

-- name: winner
-- Who made a grant: one block per grant number, so any of its rows says.
SELECT claimant FROM leases WHERE session_id = {session_id:String} AND grant_no = {grant_no:UInt64} LIMIT 1

-- name: scored
-- Items leased to a labeler and not labeled yet, served again under the session's current classifier.
SELECT id, url, label, dotProduct(vector, {w:Array(Float32)}) + {b:Float64} AS score
FROM {db:Identifier}.{items:Identifier}
WHERE id IN {ids:Array(String)}
  AND id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String} AND removed = 0)
