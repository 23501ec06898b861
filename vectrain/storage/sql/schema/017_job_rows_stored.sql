-- What a job stored, so its message can say so however it ends. `stored_before`: the rows of the
-- dataset when the job began to store (written at once, so it survives a kill); `stored`: the rows
-- it stored, as last recorded. A job a dead process left running is failed at start-up with the
-- rows it actually stored: the dataset's rows now minus `stored_before`.

ALTER TABLE jobs ADD COLUMN IF NOT EXISTS stored UInt64 DEFAULT 0;
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS stored_before Nullable(UInt64);
