package actionsvar

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/redeliver/redeliver"
)

// rawValue builds a ledger value around a hand-written payload.
func rawValue(key, payload string) string {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(payload))
	zw.Close()
	return ledgerTag + key + ":" + base64.StdEncoding.EncodeToString(z.Bytes())
}

func fuzzStore() *Store {
	return &Store{owner: "acme", repo: "ops", name: "LAST_REDELIVERY", ledgerName: "LAST_REDELIVERY_LEDGER"}
}

func FuzzCheckpointValue(f *testing.F) {
	for _, v := range []string{"1764230400000", " 1764230400000 ", "", "abc", "1.5e12", "-5", "0",
		"253402300799999", "253402300800000", "99999999999999999999", "١٢٣", "0x1F", "+1",
		strings.Repeat("9", 100)} {
		f.Add(v)
	}
	s := fuzzStore()
	f.Fuzz(func(t *testing.T, v string) {
		tm, err := s.readCheckpoint(v)
		if err != nil {
			if redeliver.ErrorCode(err) != redeliver.EInvalid ||
				!strings.Contains(err.Error(), "LAST_REDELIVERY") || !strings.Contains(err.Error(), "acme/ops") {
				t.Fatalf("rejection %q must be invalid and name the variable and repository", err)
			}
			return
		}
		// Accepted: writing it back gives the same number of milliseconds.
		back, err := FormatCheckpoint(tm)
		if err != nil {
			t.Fatalf("accepted %q as %v but cannot write it: %v", v, tm, err)
		}
		again, err := ParseCheckpoint(back)
		if err != nil || !again.Equal(tm) {
			t.Fatalf("%q → %v → %q → %v, %v", v, tm, back, again, err)
		}
	})
}

func FuzzLedgerDecode(f *testing.F) {
	good, _ := encodeLedger("org/acme/hooks/12", sampleEntries())
	f.Add(good)
	f.Add("")
	f.Add("rdl1:")
	f.Add("rdl1:k:")
	f.Add("rdl1:k:@@@")
	f.Add(good[:len(good)/2])
	f.Add(rawValue("k", "k\t1\t100\ng\tf\tpush\t\t5\t0\t0\t\t\t\t\t\t0\n"))
	f.Add(rawValue("k", "k\t1\t100\ng\tf\tpush\t\t9223372036854775807\t-9223372036854775808\t0.000000001\t\t\t\t\t1\t0\n"))
	f.Add(rawValue("k", "k\t0\t0\n"))
	f.Add("k\t1\t100\ng\tf\tpush\t\t5\t0\t0\t\t\t\t\t\t0\n")
	f.Add("k\t2\t1764230400\na%09b\tx\tpush\topened\t9007199254740993\t-3.5\t7\t2\t1.000000001\t\t2\t1\t9\n" +
		"c\tr\t\t\t1\t\t\t\t\t\t\t\t\n")
	s := fuzzStore()
	f.Fuzz(func(t *testing.T, v string) {
		check(t, s, v)
		// The same input as a payload, so the fuzzer reaches the record
		// parser behind base64, gzip and its checksum.
		k, _, _ := strings.Cut(strings.SplitN(v, "\n", 2)[0], "\t")
		if uk, err := unescape(k); err == nil && uk != "" {
			check(t, s, rawValue(uk, v))
		}
	})
}

// check decodes v: a rejection must be invalid and name the variable; an
// accepted value must re-encode to the same entries.
func check(t *testing.T, s *Store, v string) {
	t.Helper()
	key, es, err := s.readLedger(v)
	if err != nil {
		if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "LAST_REDELIVERY_LEDGER") {
			t.Fatalf("rejection %q must be invalid and name the variable", err)
		}
		return
	}
	w, err := encodeLedger(key, es)
	if err != nil {
		t.Fatal(err)
	}
	key2, es2, err := decodeLedger(w)
	if err != nil || key2 != key || len(es2) != len(es) {
		t.Fatalf("re-encoding failed: %q %d %v", key2, len(es2), err)
	}
	m := byGUID(es2)
	for _, e := range es {
		if m[e.GUID] != e {
			t.Fatalf("entry %q changed:\n%+v\n%+v", e.GUID, e, m[e.GUID])
		}
	}
}
