// Package reliability holds redeliver's reliability suite: tests that abuse
// the real binary and the engine — kills at any point, fault schedules, a
// receiver down for days, concurrent runs, broken state, fuzzed answers,
// secrets, load — and check the promises the README makes. It has no code
// of its own outside its tests; RELIABILITY.md at the module root lists each
// promise, the test that proves it and the figures of its last run.
//
// The tests need a Unix system (signals, /proc, wait4). Heavy variants
// (full-size load, more kills, longer fault schedules) run only with
// REDELIVER_HEAVY=1.
package reliability
