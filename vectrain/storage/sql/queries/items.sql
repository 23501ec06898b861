-- Plain (non-vector) queries over an items_<dataset> table. The table is bound as an
-- Identifier after its name was validated; vectors and distances live in vectrain/storage/vectorsql/.

-- name: count
SELECT count() FROM {db:Identifier}.{items:Identifier}

-- name: get
SELECT id, url, label, split, meta, vector
FROM {db:Identifier}.{items:Identifier}
WHERE id = {id:String}
LIMIT 1

-- name: ids
SELECT id FROM {db:Identifier}.{items:Identifier}

-- name: existing_ids
SELECT id FROM {db:Identifier}.{items:Identifier} WHERE id IN {ids:Array(String)}

-- name: count_in
SELECT count() FROM {db:Identifier}.{items:Identifier} WHERE id IN {ids:Array(String)}

-- name: count_not_in
SELECT count() FROM {db:Identifier}.{items:Identifier} WHERE id NOT IN {ids:Array(String)}

-- name: index_parts
-- The truth about a table's vector index: parts with rows but no index data are unindexed.
SELECT countIf(rows > 0 AND secondary_indices_compressed_bytes = 0) AS unindexed, count() AS parts
FROM system.parts
WHERE database = {db:String} AND table = {table:String} AND active

-- name: largest_index_part
-- The largest part's vector index, uncompressed: what one entry of the index cache must hold.
SELECT max(secondary_indices_uncompressed_bytes)
FROM system.parts
WHERE database = {db:String} AND table = {table:String} AND active

-- name: pending_mutations
SELECT count() FROM system.mutations WHERE database = {db:String} AND table = {table:String} AND is_done = 0

-- name: failed_mutation
-- Why a mutation of the table that has not finished failed last ('' when none did).
SELECT max(latest_fail_reason)
FROM system.mutations
WHERE database = {db:String} AND table = {table:String} AND is_done = 0

-- name: kill_mutations
-- Stops the table's unfinished mutations (a cancelled index build); what they did not finish stays undone.
KILL MUTATION WHERE database = {db:String} AND table = {table:String} SYNC

-- name: parts
-- Active parts and their rows, for uniform random sampling by (_part, _part_offset).
SELECT name, rows
FROM system.parts
WHERE database = {db:String} AND table = {table:String} AND active AND rows > 0
ORDER BY name

-- name: item
SELECT id, url, label, split, meta
FROM {db:Identifier}.{items:Identifier}
WHERE id = {id:String}
LIMIT 1

-- name: labels_of
-- The dataset's own label of some items (shown beside a session's scores and labels).
SELECT id, label FROM {db:Identifier}.{items:Identifier} WHERE id IN {ids:Array(String)}

-- name: label_facets
-- The dataset's labels with their counts, most common first (the filters a person picks from).
SELECT label AS value, count() AS n FROM {db:Identifier}.{items:Identifier}
GROUP BY label ORDER BY n DESC, value LIMIT {limit:UInt32}

-- name: split_facets
SELECT split AS value, count() AS n FROM {db:Identifier}.{items:Identifier}
GROUP BY split ORDER BY n DESC, value LIMIT {limit:UInt32}

-- name: urls
-- Items of a next batch: what the page shows of each (its image, the dataset's own label).
SELECT id, url, label FROM {db:Identifier}.{items:Identifier} WHERE id IN {ids:Array(String)}

-- name: urls_vectors
SELECT id, url, label, vector FROM {db:Identifier}.{items:Identifier} WHERE id IN {ids:Array(String)}
