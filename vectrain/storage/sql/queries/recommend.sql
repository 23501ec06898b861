-- Search by positive and negative examples (vectrain/search/recommend.py). The examples are bound as
-- parameters (unit vectors, so a dot product is the cosine similarity); the excluded ids too.

-- name: best_score
-- The k rows with the best best_score, by a full scan: with max_pos and max_neg a row's highest
-- similarity to any positive and to any negative, it scores max_pos when max_pos >= max_neg, else
-- -(max_neg ^ 2). No positives (or no negatives): that side's maximum is -inf. Ties by id.
SELECT id, url, label, if(max_pos >= max_neg, max_pos, -(max_neg * max_neg)) AS score
FROM (
    SELECT id, url, label,
           arrayMax(arrayPushFront(arrayMap(e -> toFloat64(dotProduct(vector, e)), {positives:Array(Array(Float32))}),
                                   -inf)) AS max_pos,
           arrayMax(arrayPushFront(arrayMap(e -> toFloat64(dotProduct(vector, e)), {negatives:Array(Array(Float32))}),
                                   -inf)) AS max_neg
    FROM {db:Identifier}.{items:Identifier}
    WHERE id NOT IN {exclude:Array(String)}
)
ORDER BY score DESC, id ASC
LIMIT {k:UInt32}
