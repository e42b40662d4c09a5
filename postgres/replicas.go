package postgres

import (
	"cmp"
	"context"
	"hash/fnv"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Heartbeat registers replica id as live for ttl (0 means DefaultTTL) from
// now, by the Store's clock. Replicas beat every TTL/3; one that stops is
// dropped from Replicas once its last beat expires.
func (s *Store) Heartbeat(ctx context.Context, id string, ttl time.Duration) error {
	if err := s.writable(id); err != nil {
		return err
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return s.with(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `INSERT INTO `+s.table("redeliver_replicas")+` (id, expires_at) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at`, id, s.now().Add(ttl).UnixNano())
		return s.dbErr(err)
	})
}

// Leave removes replica id at once (a clean shutdown), so the others take
// its share without waiting for its heartbeat to expire.
func (s *Store) Leave(ctx context.Context, id string) error {
	if err := s.writable(id); err != nil {
		return err
	}
	return s.with(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `DELETE FROM `+s.table("redeliver_replicas")+` WHERE id = $1`, id)
		return s.dbErr(err)
	})
}

// Replicas returns the ids of the live replicas, sorted; expired ones are
// deleted on the way.
func (s *Store) Replicas(ctx context.Context) ([]string, error) {
	var ids []string
	now := s.now().UnixNano()
	err := s.with(ctx, func(q querier) error {
		if !s.readOnly {
			if _, err := q.Exec(ctx, `DELETE FROM `+s.table("redeliver_replicas")+` WHERE expires_at <= $1`, now); err != nil {
				return s.dbErr(err)
			}
		}
		rows, err := q.Query(ctx, `SELECT id FROM `+s.table("redeliver_replicas")+` WHERE expires_at > $1 ORDER BY id COLLATE "C"`, now)
		if err != nil {
			return s.dbErr(err)
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return s.dbErr(err)
	})
	return ids, err
}

// Assign decides which replica should hold each target, from nothing but
// the two lists, so every replica computes the same answer: rendezvous
// (highest random weight) hashing, with each replica's share capped at
// ceil(targets/replicas) so none holds them all while others idle. A
// replica joining or leaving moves few targets. Duplicates are ignored; no
// replicas means no assignment.
func Assign(targets, replicas []string) map[string]string {
	reps := slices.Compact(slices.Sorted(slices.Values(replicas)))
	ts := slices.Compact(slices.Sorted(slices.Values(targets)))
	out := make(map[string]string, len(ts))
	if len(reps) == 0 {
		return out
	}
	capacity := (len(ts) + len(reps) - 1) / len(reps)
	load := make(map[string]int, len(reps))
	order := make([]string, len(reps))
	for _, t := range ts {
		copy(order, reps)
		slices.SortFunc(order, func(a, b string) int {
			return cmp.Or(cmp.Compare(weight(b, t), weight(a, t)), cmp.Compare(a, b))
		})
		for _, r := range order {
			if load[r] < capacity {
				out[t] = r
				load[r]++
				break
			}
		}
	}
	return out
}

// Share returns the targets Assign gives to replica, sorted.
func Share(replica string, targets, replicas []string) []string {
	var mine []string
	for t, r := range Assign(targets, replicas) {
		if r == replica {
			mine = append(mine, t)
		}
	}
	slices.Sort(mine)
	return mine
}

// weight is the rendezvous score of a replica for a target: FNV-1a of both,
// finished with SplitMix64's mixer so that close inputs spread apart.
func weight(replica, target string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(replica))
	h.Write([]byte{0})
	h.Write([]byte(target))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
