"""The database: one client (embedded chDB or a server), queries as values, the one vector-SQL builder,
the dataset registry, and the plain SQL in sql/ (schema/ and queries/)."""
