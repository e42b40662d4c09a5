package postgres_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/redeliver/redeliver/postgres"
)

func hooks(n int) []string {
	var ts []string
	for i := range n {
		ts = append(ts, fmt.Sprintf("org/acme/hooks/%d", i+1))
	}
	return ts
}

// Assign, as a specification: every target goes to exactly one live
// replica, none holds more than ceil(targets/replicas), and the answer
// depends on the two sets only (order and duplicates do not matter), so
// every replica computes the same.
func TestAssign(t *testing.T) {
	cases := []struct {
		name     string
		targets  []string
		replicas []string
		maxLoad  int
	}{
		{"no replicas: nobody holds anything", hooks(3), nil, 0},
		{"no targets", nil, []string{"a", "b"}, 0},
		{"one replica holds all", hooks(5), []string{"a"}, 5},
		{"20 hooks over 3 replicas: 7, 7, 6", hooks(20), []string{"a", "b", "c"}, 7},
		{"more replicas than targets: one each at most", hooks(2), []string{"a", "b", "c", "d"}, 1},
		{"duplicates ignored", append(hooks(4), hooks(4)...), []string{"b", "a", "b"}, 2},
		{"100 hooks over 7 replicas", hooks(100), []string{"r1", "r2", "r3", "r4", "r5", "r6", "r7"}, 15},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := postgres.Assign(c.targets, c.replicas)
			uniq := slices.Compact(slices.Sorted(slices.Values(c.targets)))
			if len(c.replicas) == 0 {
				if len(got) != 0 {
					t.Fatalf("assigned %v with no replicas", got)
				}
				return
			}
			if len(got) != len(uniq) {
				t.Fatalf("%d of %d targets assigned", len(got), len(uniq))
			}
			load := map[string]int{}
			for tgt, r := range got {
				if !slices.Contains(c.replicas, r) || !slices.Contains(uniq, tgt) {
					t.Errorf("%s -> %s: not one of the given", tgt, r)
				}
				load[r]++
			}
			for r, n := range load {
				if n > c.maxLoad {
					t.Errorf("%s holds %d, more than %d", r, n, c.maxLoad)
				}
			}
			if len(uniq) >= len(slices.Compact(slices.Sorted(slices.Values(c.replicas)))) && len(load) != len(slices.Compact(slices.Sorted(slices.Values(c.replicas)))) {
				t.Errorf("loads %v: a replica idles while there is work", load)
			}
			// Same sets in another order: the same answer.
			rt, rr := slices.Clone(c.targets), slices.Clone(c.replicas)
			slices.Reverse(rt)
			slices.Reverse(rr)
			if again := postgres.Assign(rt, rr); !maps.Equal(again, got) {
				t.Errorf("order changed the answer:\n%v\n%v", got, again)
			}
			// Share is Assign seen by one replica.
			total := 0
			for _, r := range slices.Compact(slices.Sorted(slices.Values(c.replicas))) {
				total += len(postgres.Share(r, c.targets, c.replicas))
			}
			if total != len(uniq) {
				t.Errorf("shares add up to %d, want %d", total, len(uniq))
			}
		})
	}
}

// A replica leaving moves its targets, and only a few others: most
// targets stay where they were.
func TestAssignStability(t *testing.T) {
	ts := hooks(60)
	before := postgres.Assign(ts, []string{"a", "b", "c", "d"})
	after := postgres.Assign(ts, []string{"a", "b", "c"})
	moved := 0
	for tgt, r := range before {
		if r != "d" && after[tgt] != r {
			moved++
		}
	}
	t.Logf("%d of %d targets of surviving replicas moved", moved, len(ts)-15)
	if moved > len(ts)/4 {
		t.Errorf("%d targets of surviving replicas moved when one left; want few", moved)
	}
	for tgt, r := range after {
		if r == "d" {
			t.Errorf("%s still on the replica that left", tgt)
		}
	}
}
