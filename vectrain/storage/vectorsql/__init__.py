"""The one place that builds SQL text: vector search, next batches, classifier scoring, index DDL.

Every builder returns a `Query` with its own bound parameters: vectors, ids, splits and session
ids are always parameters; only validated identifiers and integers are written into the text.
Filters are typed values (filters.py) (`Split`, `Ids`, `Labeled`, `Exclusion`) carrying their parameters.
Dialects (dialect.py): clickhouse (default; vector_similarity HNSW, ClickHouse >= 25.8 and chDB) and myscale.
Engine facts (docs/ARCHITECTURE.md): the index serves only `ORDER BY <dist>(vector, ref) LIMIT
k`, and WHERE filters are post-filters, so a query with an exclusion fetches more candidates
(ann_settings) and the caller checks it got k rows.
"""
