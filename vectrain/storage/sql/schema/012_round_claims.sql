-- A round's number is claimed by storing the round itself. Before, a number was claimed in
-- `claims` and the round stored after: a process killed in between left a number claimed and no
-- round, and the next training skipped it (rounds 0, 2). Now the insert of a round carries the
-- insert_deduplication_token (session, round): the engine keeps the first block with it and drops
-- the others, so concurrent trainers (even in other processes) each read back who stored the
-- number (`claimant`), and the loser takes the next one. A round is stored whole or not at all.

ALTER TABLE rounds ADD COLUMN IF NOT EXISTS claimant String DEFAULT '';
ALTER TABLE rounds MODIFY SETTING non_replicated_deduplication_window = 100000;
