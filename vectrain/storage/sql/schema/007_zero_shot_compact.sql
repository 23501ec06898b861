-- Zero-shot rows keep what analysts use: the label, its score, the margin and the top few labels
-- with their scores. The similarity to every label (`scores`) is stored only when asked for: at
-- 1M rows x 100 labels it is 400 MB.

ALTER TABLE zero_shot ADD COLUMN IF NOT EXISTS top_labels Array(String) DEFAULT [] AFTER margin;
ALTER TABLE zero_shot ADD COLUMN IF NOT EXISTS top_scores Array(Float32) DEFAULT [] AFTER top_labels;
