-- Whole-dataset audits: suspected label errors and near-duplicate groups (vectrain/quality/dataset_audit.py).
-- Every run appends its rows under one run_at; audit_runs lists the runs.

-- name: labeled_vectors
SELECT id, label, vector
FROM {db:Identifier}.{items:Identifier}
WHERE label != ''
ORDER BY id

-- name: insert_run
INSERT INTO audit_runs (dataset, kind, run_at, params, checked, found, seconds)
VALUES ({dataset:String}, {kind:String}, {run_at:DateTime64(3)}, {params:String}, {checked:UInt64},
        {found:UInt64}, {seconds:Float64})

-- name: latest_run
SELECT max(run_at) AS run_at, count() AS runs
FROM audit_runs
WHERE dataset = {dataset:String} AND kind = {kind:String}

-- name: run
SELECT kind, run_at, params, checked, found, seconds
FROM audit_runs
WHERE dataset = {dataset:String} AND kind = {kind:String} AND run_at = {run_at:DateTime64(3)}

-- name: label_issues
SELECT id, label, suggested, score, agreement, neighbors
FROM label_issues
WHERE dataset = {dataset:String} AND run_at = {run_at:DateTime64(3)}
ORDER BY rank
LIMIT {limit:UInt64}

-- name: duplicate_groups
SELECT group_id, groupArray(id) AS ids, any(size) AS size, max(similarity) AS similarity
FROM (SELECT group_id, id, size, similarity FROM duplicate_groups
      WHERE dataset = {dataset:String} AND run_at = {run_at:DateTime64(3)} ORDER BY group_id, id)
GROUP BY group_id
ORDER BY group_id
LIMIT {limit:UInt64}
