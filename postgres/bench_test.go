package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/postgres/pgtest"
	"github.com/redeliver/redeliver/storetest"
)

// BenchmarkPut is one entry per transaction: the engine's intent and
// outcome writes.
func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	s := open(b, pgtest.DSN(b))
	e := storetest.Entry("g")
	i := 0
	for b.Loop() {
		e.GUID = fmt.Sprint("g-", i)
		i++
		if err := s.Put(ctx, "k", e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFencedPut is the same write checked against a lease.
func BenchmarkFencedPut(b *testing.B) {
	ctx := context.Background()
	s := open(b, pgtest.DSN(b))
	l, err := s.Lease(ctx, "k", "bench", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	f := s.Fenced(l)
	e := storetest.Entry("g")
	i := 0
	for b.Loop() {
		e.GUID = fmt.Sprint("g-", i)
		i++
		if err := f.Put(ctx, "k", e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutBatch is a large first run's ledger in one Put.
func BenchmarkPutBatch(b *testing.B) {
	ctx := context.Background()
	s := open(b, pgtest.DSN(b))
	es := make([]redeliver.LedgerEntry, 10_000)
	for i := range es {
		es[i] = storetest.Entry(fmt.Sprintf("%08d-0000-11f0-8000-000000000000", i))
	}
	for b.Loop() {
		if err := s.Put(ctx, "k", es...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(len(es)), "µs/entry")
}
