-- Jobs (sql/schema/008_jobs.sql). Rows are replaced (ReplacingMergeTree), so reads use FINAL.

-- name: get
SELECT id, kind, dataset, state, done, total, rate, eta, message, error, params, result, hint,
       created, started, finished, updated, stored, stored_before
FROM jobs FINAL
WHERE id = {id:String}

-- name: list
SELECT id, kind, dataset, state, done, total, rate, eta, message, error, params, result, hint,
       created, started, finished, updated, stored, stored_before
FROM jobs FINAL
WHERE {dataset:String} = '' OR dataset = {dataset:String}
ORDER BY created DESC, id DESC
LIMIT {limit:UInt32}

-- name: unfinished
-- Jobs a process left queued or running, not written for `stale_seconds` (0: all of them).
SELECT id, kind, dataset, state, done, total, rate, eta, message, error, params, result, hint,
       created, started, finished, updated, stored, stored_before
FROM jobs FINAL
WHERE state IN ('queued', 'running') AND updated <= now64(3) - toIntervalMillisecond({stale_ms:UInt64})
ORDER BY created
