-- Thumbnails: a small image of every item whose pixels a loader read (digits, CIFAR, Unsplash,
-- image folders), served by GET /datasets/{name}/items/{id}/image and readable by analysts.
-- Idempotent; applied by Store.migrate().
--
--   thumbnails   one row per (dataset, id): the encoded image bytes (PNG at or below 64 px so
--                small images keep their exact pixels, WebP above) and their size. Loaders only
--                add thumbnails an item lacks; ReplacingMergeTree folds a row written twice (a
--                load interrupted between its two inserts) into one.
--
-- Small granules (64 rows) because rows are a few KB and every read is a point lookup by
-- (dataset, id): a lookup reads one granule, not 8,192 images.

CREATE TABLE IF NOT EXISTS thumbnails
(
    dataset     String,
    id          String,
    format      LowCardinality(String),   -- png | webp | jpeg
    width       UInt16,
    height      UInt16,
    data        String CODEC(NONE),       -- the image file's bytes (already compressed)
    created     DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created)
ORDER BY (dataset, id)
SETTINGS index_granularity = 64;
