-- Registry of datasets. Rows are replaced (ReplacingMergeTree), so reads use FINAL.

-- name: list
SELECT name, dim, encoder, model, metric, description, created
FROM datasets FINAL
WHERE deleted = 0
ORDER BY name

-- name: get
SELECT name, dim, encoder, model, metric, description, created
FROM datasets FINAL
WHERE name = {name:String} AND deleted = 0

-- name: insert
INSERT INTO datasets (name, dim, encoder, model, metric, description)
VALUES ({name:String}, {dim:UInt32}, {encoder:String}, {model:String}, {metric:String}, {description:String})

-- name: delete
INSERT INTO datasets (name, dim, encoder, model, metric, description, deleted)
SELECT name, dim, encoder, model, metric, description, 1 FROM datasets FINAL WHERE name = {name:String}
