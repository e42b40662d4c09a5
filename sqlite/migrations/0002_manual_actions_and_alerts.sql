-- 0002: what people ask for on the status page, and what alerts have told.
--
-- The ledger columns hold redeliver.LedgerEntry's Granted, Force, Manual,
-- ManualBy and ManualAt (see actions.go); existing rows get "no action".

ALTER TABLE ledger ADD COLUMN granted   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN forced    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN manual    TEXT    NOT NULL DEFAULT '';
ALTER TABLE ledger ADD COLUMN manual_by TEXT    NOT NULL DEFAULT '';
ALTER TABLE ledger ADD COLUMN manual_at INTEGER;

-- One row per thing an alert has told about, so that it is told once: a
-- subject (a guid, or "coverage" for the target's listing) and the mark of
-- what was told (such as "exhausted/5", or the end of the newest gap). It is
-- apart from the ledger so that the engine's writes of an entry never undo it.
CREATE TABLE alert_marks (
	target_key TEXT NOT NULL,
	subject    TEXT NOT NULL,
	mark       TEXT NOT NULL,
	at         INTEGER,
	PRIMARY KEY (target_key, subject)
) STRICT, WITHOUT ROWID;
