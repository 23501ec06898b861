-- name: table_exists
SELECT count() > 0 FROM system.tables WHERE database = {db:String} AND name = {table:String}
