-- 0002: what people ask for on the status page, and what alerts have told.
--
-- The ledger columns hold redeliver.LedgerEntry's Granted, Force, Manual,
-- ManualBy and ManualAt (see actions.go); existing rows get "no action".
-- Constant defaults: PostgreSQL adds these columns without rewriting the table.
ALTER TABLE redeliver_ledger
	ADD COLUMN granted   bigint  NOT NULL DEFAULT 0,
	ADD COLUMN forced    boolean NOT NULL DEFAULT false,
	ADD COLUMN manual    text    NOT NULL DEFAULT '',
	ADD COLUMN manual_by text    NOT NULL DEFAULT '',
	ADD COLUMN manual_at bigint;

-- One row per thing an alert has told about, so that it is told once: a
-- subject (a guid, "coverage" for the target's listing, or a notifier's
-- "open:NAME") and the mark of what was told. It is apart from the ledger
-- so that the engine's writes of an entry never undo it. at is when it was
-- told (GitHub's clock), Unix nanoseconds.
CREATE TABLE redeliver_alert_marks (
	target_key text NOT NULL,
	subject    text NOT NULL,
	mark       text NOT NULL,
	at         bigint,
	PRIMARY KEY (target_key, subject)
);
