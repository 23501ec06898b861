-- The thumbnails table (sql/schema/006_thumbnails.sql): one image per (dataset, id).
-- Reads are point lookups by the primary key without FINAL: a row is only written for an id
-- that has none, so a second row (two loads at once) holds the same image.

-- name: ids
SELECT DISTINCT id FROM thumbnails WHERE dataset = {dataset:String}

-- name: get
SELECT format, width, height, data
FROM thumbnails
WHERE dataset = {dataset:String} AND id = {id:String}
LIMIT 1

-- name: info
SELECT format, width, height
FROM thumbnails
WHERE dataset = {dataset:String} AND id = {id:String}
LIMIT 1

-- name: count
SELECT uniqExact(id) FROM thumbnails WHERE dataset = {dataset:String}

-- name: delete_dataset
ALTER TABLE thumbnails DELETE WHERE dataset = {dataset:String}
