-- 0001: checkpoints, the ledger, leases and replicas.
--
-- Every table carries the redeliver_ prefix, so the state can share a schema
-- with other tables. Times are Unix nanoseconds in UTC, as in the SQLite
-- store; NULL is the zero time.Time. bigint keeps attempt ids above 2^53
-- exact.

-- One row: which program made these tables, and at which schema version.
CREATE TABLE redeliver_schema (
	singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	application text    NOT NULL,
	version     integer NOT NULL
);

CREATE TABLE redeliver_checkpoints (
	target_key      text PRIMARY KEY,
	checkpoint_time bigint,
	run_at          bigint
);

-- One row per failed event (guid) of a target; see redeliver.LedgerEntry.
-- The state is validated when read, not by a CHECK, so a bad row is
-- reported by name.
CREATE TABLE redeliver_ledger (
	target_key   text    NOT NULL,
	guid         text    NOT NULL,
	event        text    NOT NULL,
	action       text    NOT NULL,
	first_seen   bigint,
	attempt_id   bigint  NOT NULL,
	attempt_at   bigint,
	requests     bigint  NOT NULL,
	last_request bigint,
	intent_at    bigint,
	seen         bigint  NOT NULL,
	seen_mark    bigint  NOT NULL,
	state        text    NOT NULL,
	updated      bigint,
	PRIMARY KEY (target_key, guid)
);

-- A replica's claim on a target. The token grows by one each time the
-- lease is acquired, and never goes back (rows are never deleted): every
-- fenced write checks it. expires_at is the holder's clock; 0 is released.
CREATE TABLE redeliver_leases (
	target_key text   PRIMARY KEY,
	owner      text   NOT NULL,
	token      bigint NOT NULL,
	expires_at bigint NOT NULL
);

-- Live replicas, kept by their heartbeats: what the targets are shared by.
CREATE TABLE redeliver_replicas (
	id         text   PRIMARY KEY,
	expires_at bigint NOT NULL
);
