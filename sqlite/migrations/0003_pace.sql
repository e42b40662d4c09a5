-- 0003: the rate-limit windows a run learned per API host (redeliver.PaceStore).
--
-- One row per window GitHub showed applies at api_host (such as
-- "api.github.com"): at most win_limit redeliveries in any span of
-- length_ns nanoseconds. A later run starts within them.
CREATE TABLE pace_windows (
	api_host  TEXT    NOT NULL,
	length_ns INTEGER NOT NULL,
	win_limit INTEGER NOT NULL,
	PRIMARY KEY (api_host, length_ns)
) STRICT, WITHOUT ROWID;
