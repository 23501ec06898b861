-- Analysts' SQL (vectrain.analyst.sql): the engine's own parser decides what a statement is.
-- The statement is always a bound value here: parsed and formatted, never run.

-- name: parse
SELECT parseQueryToJSON({statement:String});

-- name: parse_table_expression
-- DESCRIBE's table expression, checked as the FROM of a SELECT.
SELECT parseQueryToJSON(concat('SELECT * FROM ', {source:String}));

-- name: canonical
SELECT formatQuerySingleLine({statement:String});

-- name: format_checked
-- The statement to run, formatted from the checked tree, and that text parsed again exactly as
-- the client sends it (it appends a FORMAT clause).
SELECT formatQueryFromJSON({tree:String}) AS statement,
       parseQueryToJSON(concat(statement, '\n FORMAT Native')) AS reparsed;
