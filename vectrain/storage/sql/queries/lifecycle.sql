-- Deleting a dataset and what refers to it (vectrain/jobs/lifecycle.py), and deleting sessions
-- (vectrain/labeling/manage.py). Mutations run with mutations_sync, so the rows are gone when the
-- delete answers.

-- name: sessions_of
SELECT id, name FROM sessions FINAL WHERE dataset = {dataset:String} AND deleted = 0 ORDER BY name

-- name: labelsets_with_predictions
-- Label sets with zero-shot predictions stored for the dataset.
SELECT DISTINCT labelset FROM zero_shot WHERE dataset = {dataset:String} ORDER BY labelset

-- name: delete_sessions
INSERT INTO sessions (id, dataset, name, source, prompt, examples, init_weights, created, deleted, version)
SELECT id, dataset, name, source, prompt, examples, init_weights, created, 1, {version:UInt64}
FROM sessions FINAL WHERE id IN {ids:Array(String)}

-- name: delete_predictions
ALTER TABLE predictions DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_labels
ALTER TABLE labels DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_rounds
ALTER TABLE rounds DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_class_scores
ALTER TABLE class_scores DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_class_scored
ALTER TABLE class_scored DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_class_applied
ALTER TABLE class_applied DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_label_history
ALTER TABLE label_history DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_label_votes
ALTER TABLE label_votes DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_leases
ALTER TABLE leases DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_audit_draws
ALTER TABLE audit_draws DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_unseen_decisions
ALTER TABLE unseen_decisions DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_audit_scores
ALTER TABLE audit_scores DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_audit_predictors
ALTER TABLE audit_predictors DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_zero_shot
ALTER TABLE zero_shot DELETE WHERE dataset = {dataset:String}

-- name: delete_session_scores
ALTER TABLE session_scores DELETE WHERE session_id IN {ids:Array(String)}

-- name: delete_scored_rounds
ALTER TABLE scored_rounds DELETE WHERE session_id IN {ids:Array(String)}
