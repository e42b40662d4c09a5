-- 0001: checkpoints and the ledger.
--
-- Times are Unix nanoseconds in UTC; NULL is the zero time.Time (0 would be
-- 1970, which is a time). STRICT makes SQLite refuse a REAL where an INTEGER
-- belongs, so attempt ids above 2^53 can never be rounded through a float.

CREATE TABLE checkpoints (
	target_key TEXT NOT NULL PRIMARY KEY,
	time       INTEGER,
	run_at     INTEGER
) STRICT;

-- One row per failed event (guid) of a target; see redeliver.LedgerEntry.
-- The state is deliberately not a CHECK constraint: it is validated when
-- read, so a bad row is reported by name instead of failing the whole file.
CREATE TABLE ledger (
	target_key   TEXT    NOT NULL,
	guid         TEXT    NOT NULL,
	event        TEXT    NOT NULL,
	action       TEXT    NOT NULL,
	first_seen   INTEGER,
	attempt_id   INTEGER NOT NULL,
	attempt_at   INTEGER,
	requests     INTEGER NOT NULL,
	last_request INTEGER,
	intent_at    INTEGER,
	seen         INTEGER NOT NULL,
	seen_mark    INTEGER NOT NULL,
	state        TEXT    NOT NULL,
	updated      INTEGER,
	PRIMARY KEY (target_key, guid)
) STRICT, WITHOUT ROWID;
