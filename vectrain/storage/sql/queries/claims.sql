-- Claims of unique names (sql/schema/004_claims.sql). The deduplication token of an insert decides
-- the winner; these read it back.

-- name: generation
SELECT count() FROM claims WHERE kind = {kind:String} AND name = {name:String} AND claimant = ''

-- name: winner
SELECT claimant FROM claims
WHERE kind = {kind:String} AND name = {name:String} AND generation = {generation:UInt32} AND claimant != ''
ORDER BY at
LIMIT 1
