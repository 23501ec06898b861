-- Labels can be removed (undo, or a wrong label): a removal is a newer version of the label row
-- with removed = 1, so FINAL reads keep working and every label query filters removed = 0.

ALTER TABLE labels ADD COLUMN IF NOT EXISTS removed UInt8 DEFAULT 0;
