-- Jobs: long work the service runs in the background (loads, zero-shot over a dataset, apply,
-- eval, index builds), one row per job so it survives a restart. Idempotent; applied by
-- Store.migrate().
--
--   jobs   one live row per job: every change (state, throttled progress) inserts a newer
--          version and ReplacingMergeTree keeps the newest, so reads use FINAL. A job still
--          queued or running when its process died is marked failed at the next start-up,
--          with `hint` (how to resume) in its message.

CREATE TABLE IF NOT EXISTS jobs
(
    id          String,
    kind        LowCardinality(String),   -- load | zero-shot | apply | eval | index | audit
    dataset     String,
    state       LowCardinality(String),   -- queued | running | done | failed | cancelled
    done        UInt64,                   -- rows (or items) done so far
    total       Nullable(UInt64),         -- NULL while unknown
    rate        Float64,                  -- rows per second, recent
    eta         Nullable(Float64),        -- seconds left, NULL while unknown
    message     String DEFAULT '',
    error       String DEFAULT '',
    params      String DEFAULT '{}',      -- JSON: what was asked
    result      String DEFAULT '',        -- JSON: the work's summary, when done
    hint        String DEFAULT '',        -- how to resume after a failure or a cancel
    created     DateTime64(3),
    started     Nullable(DateTime64(3)),
    finished    Nullable(DateTime64(3)),
    updated     DateTime64(3),            -- the last write (a heartbeat while running)
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;
