package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/serve"
)

// replicaSet is one `serve` replica of several sharing a PostgreSQL state.
// Every TTL/3 it beats its heartbeat, computes its share of the targets
// from the live replicas (the same answer on every replica), takes a lease
// on each target of its share, renews the ones it holds and gives up the
// ones that moved to another replica. The service polls a target only
// while this replica holds its lease, writing through the lease's fenced
// store and redelivering through its guard.
type replicaSet struct {
	pg   *postgres.Store
	id   string
	ttl  time.Duration
	src  redeliver.Source
	redl redeliver.Redeliverer
	log  *slog.Logger

	mu      sync.Mutex
	targets []string
	leases  map[string]*postgres.Lease
	// leaving are leases of targets that moved to another replica: not
	// claimed any more, released at the next beat, so a poll in flight
	// finishes first.
	leaving map[string]bool
	err     error // the last failure to reach the state; nil once it answers
	// polling counts the polls in flight per target: a target that moved
	// is released only once its poll ended, so that no intent is left
	// behind by a request the lease's loss stopped.
	polling map[string]int
}

// replicaID names this replica in heartbeats, leases and messages: the host
// name (a pod's name in Kubernetes) and a random suffix, so a restarted
// process is a new replica and never mistakes its predecessor's leases
// for its own.
func replicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "replica"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

func newReplicaSet(pg *postgres.Store, ttl time.Duration, src redeliver.Source, r redeliver.Redeliverer, log *slog.Logger) *replicaSet {
	return &replicaSet{pg: pg, id: replicaID(), ttl: ttl, src: src, redl: r, log: log,
		leases: map[string]*postgres.Lease{}, leaving: map[string]bool{}, polling: map[string]int{}}
}

// setTargets replaces the targets to share (at start and on SIGHUP).
func (rs *replicaSet) setTargets(targets []serve.Target) {
	keys := make([]string, len(targets))
	for i, t := range targets {
		keys[i] = t.Key()
	}
	rs.mu.Lock()
	rs.targets = keys
	rs.mu.Unlock()
}

// claim is the service's Config.Claim.
func (rs *replicaSet) claim(_ context.Context, key string) (serve.Claim, bool, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.err != nil {
		return serve.Claim{}, false, rs.err
	}
	l := rs.leases[key]
	if l == nil || rs.leaving[key] || l.Check() != nil {
		return serve.Claim{}, false, nil
	}
	rs.polling[key]++
	done := func() {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if rs.polling[key]--; rs.polling[key] <= 0 {
			delete(rs.polling, key)
		}
	}
	return serve.Claim{Store: rs.pg.Fenced(l), Redeliverer: l.Guard(rs.redl), Source: l.GuardSource(rs.src),
		Done: done, Epoch: l.Token()}, true, nil
}

// run beats until ctx is done, then releases every lease and leaves, so
// the other replicas take the targets at once. While the state cannot be
// reached it retries with a growing wait (from 100 ms up to TTL/3); the
// leases it held run out meanwhile and nothing is claimed.
func (rs *replicaSet) run(ctx context.Context, ready chan<- struct{}) {
	every := rs.ttl / 3
	backoff := 100 * time.Millisecond
	for {
		wait := every
		if err := rs.beat(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			rs.mu.Lock()
			was := rs.err
			rs.err = err
			rs.mu.Unlock()
			if was == nil {
				rs.log.Error("state unreachable: polling and redeliveries stop until it answers", "replica", rs.id, "error", err)
			}
			wait = min(backoff, every)
			backoff = min(backoff*2, every)
		} else {
			backoff = 100 * time.Millisecond
		}
		if ready != nil {
			close(ready)
			ready = nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	rs.leave()
}

// beat is one round: heartbeat, share, leases.
func (rs *replicaSet) beat(ctx context.Context) error {
	if err := rs.pg.Heartbeat(ctx, rs.id, rs.ttl); err != nil {
		return err
	}
	live, err := rs.pg.Replicas(ctx)
	if err != nil {
		return err
	}
	rs.mu.Lock()
	targets := slices.Clone(rs.targets)
	rs.mu.Unlock()
	if !slices.Contains(live, rs.id) {
		live = append(live, rs.id) // our beat expired already by another's clock
	}
	share := postgres.Share(rs.id, targets, live)
	mine := map[string]bool{}
	for _, k := range share {
		mine[k] = true
	}

	rs.mu.Lock()
	held := make(map[string]*postgres.Lease, len(rs.leases))
	for k, l := range rs.leases {
		held[k] = l
	}
	leaving := rs.leaving
	busy := make(map[string]bool, len(rs.polling))
	for k := range rs.polling {
		busy[k] = true
	}
	rs.mu.Unlock()

	var firstErr error
	keep := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	nextLeaving := map[string]bool{}
	for k, l := range held {
		switch {
		case leaving[k] && busy[k]:
			// Its last poll has not ended: keep it one more beat.
			nextLeaving[k] = true
			if err := l.Renew(ctx); err != nil && !errors.Is(err, postgres.ErrLeaseLost) {
				keep(err)
			}
		case leaving[k]:
			// Claimed by no poll since the last beat: give it up.
			if err := l.Release(ctx); err != nil {
				keep(err)
				nextLeaving[k] = true
				continue
			}
			delete(held, k)
			rs.log.Info("lease released: the target moved to another replica", "target", k, "replica", rs.id)
		case !mine[k]:
			nextLeaving[k] = true
			if err := l.Renew(ctx); err != nil && !errors.Is(err, postgres.ErrLeaseLost) {
				keep(err)
			}
		default:
			if err := l.Renew(ctx); err != nil {
				delete(held, k)
				if !errors.Is(err, postgres.ErrLeaseLost) {
					keep(err)
					continue
				}
				rs.log.Warn("lease lost", "target", k, "replica", rs.id, "error", err)
			}
		}
	}
	for _, k := range share {
		if held[k] != nil {
			continue
		}
		l, err := rs.pg.Lease(ctx, k, rs.id, rs.ttl)
		if errors.Is(err, postgres.ErrLeaseHeld) {
			continue // its holder still renews it, or it has not expired yet
		}
		if err != nil {
			keep(err)
			continue
		}
		held[k] = l
		rs.log.Info("lease taken", "target", k, "replica", rs.id, "token", l.Token())
	}

	rs.mu.Lock()
	rs.leases, rs.leaving = held, nextLeaving
	if firstErr == nil && rs.err != nil {
		rs.log.Info("state answering again: polling resumes", "replica", rs.id)
		rs.err = nil
	}
	rs.mu.Unlock()
	return firstErr
}

// leave gives every lease up and removes the replica, on a clean stop.
func (rs *replicaSet) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rs.mu.Lock()
	leases := rs.leases
	rs.leases = map[string]*postgres.Lease{}
	rs.mu.Unlock()
	for _, l := range leases {
		_ = l.Release(ctx)
	}
	if err := rs.pg.Leave(ctx, rs.id); err != nil {
		rs.log.Warn("leaving the replica set", "replica", rs.id, "error", err)
	}
}
