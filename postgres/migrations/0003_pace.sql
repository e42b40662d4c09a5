-- 0003: the rate-limit windows a run learned per API host (redeliver.PaceStore).
--
-- One row per window GitHub showed applies at api_host (such as
-- "api.github.com"): at most win_limit redeliveries in any span of
-- length_ns nanoseconds. A later run starts within them.
CREATE TABLE redeliver_pace_windows (
	api_host  text   NOT NULL,
	length_ns bigint NOT NULL,
	win_limit bigint NOT NULL,
	PRIMARY KEY (api_host, length_ns)
);
