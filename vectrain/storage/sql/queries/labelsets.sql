-- Label sets for zero-shot classification. Registry rows are replaced (ReplacingMergeTree),
-- so reads use FINAL; vectors are read for the registry row's version only.

-- name: list
SELECT name, labels, dim, encoder, templates, source, created, version
FROM labelsets FINAL
WHERE deleted = 0
ORDER BY name

-- name: get
SELECT name, labels, dim, encoder, templates, source, created, version
FROM labelsets FINAL
WHERE name = {name:String} AND deleted = 0

-- name: insert
INSERT INTO labelsets (name, labels, dim, encoder, templates, source, version)
VALUES ({name:String}, {labels:Array(String)}, {dim:UInt32}, {encoder:String},
        {templates:Array(String)}, {source:String}, {version:UInt64})

-- name: vectors
SELECT label, vector
FROM label_vectors
WHERE labelset = {name:String} AND version = {version:UInt64}
ORDER BY position

-- name: delete
INSERT INTO labelsets (name, labels, dim, encoder, templates, source, deleted, version)
SELECT name, labels, dim, encoder, templates, source, 1, toUnixTimestamp64Micro(now64(6))
FROM labelsets FINAL WHERE name = {name:String}
