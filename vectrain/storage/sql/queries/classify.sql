-- Plain (non-vector) queries for classification. Tables are bound as Identifiers after their
-- names were validated.

-- name: ids_in_order
-- Every id (or one split's), in primary-key order: the bounds of the blocks of batch work.
SELECT id
FROM {db:Identifier}.{items:Identifier}
WHERE {split:String} = '' OR split = {split:String}
ORDER BY id

-- name: vectors_range
-- One block of batch work: the rows with lo <= id < hi, a primary-key range (no sort).
SELECT id, vector
FROM {db:Identifier}.{items:Identifier}
WHERE id >= {lo:String} AND id < {hi:String} AND ({split:String} = '' OR split = {split:String})

-- name: vectors_from
-- The last block of batch work: the rows with id >= lo.
SELECT id, vector
FROM {db:Identifier}.{items:Identifier}
WHERE id >= {lo:String} AND ({split:String} = '' OR split = {split:String})

-- name: split_vectors
SELECT id, label, vector
FROM {db:Identifier}.{items:Identifier}
WHERE split = {split:String}
ORDER BY id

-- name: train_vectors
SELECT id, label, vector
FROM {db:Identifier}.{items:Identifier}
WHERE split = {split:String} AND label != ''
ORDER BY id

-- name: all_vectors
SELECT id, label, vector
FROM {db:Identifier}.{items:Identifier}
ORDER BY id

-- name: ids_vectors
SELECT id, label, vector
FROM {db:Identifier}.{items:Identifier}
WHERE id IN {ids:Array(String)}

-- name: count_split
SELECT count() FROM {db:Identifier}.{items:Identifier} WHERE split = {split:String}

-- name: count_train
SELECT count() FROM {db:Identifier}.{items:Identifier} WHERE split = {split:String} AND label != ''

-- name: splits
SELECT split, count() AS n FROM {db:Identifier}.{items:Identifier} GROUP BY split ORDER BY split

-- name: zero_shot_read
SELECT z.id AS id, z.label AS label, z.score AS score, z.margin AS margin, z.top_labels AS top_labels,
       z.top_scores AS top_scores
FROM zero_shot AS z FINAL
WHERE z.dataset = {dataset:String} AND z.labelset = {labelset:String} AND z.run_at = {run_at:DateTime64(3)}
ORDER BY z.id
LIMIT {limit:UInt64}

-- name: id_labels
SELECT id, label FROM {db:Identifier}.{items:Identifier}
