package actionsvar

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redeliver/redeliver"
)

// The ledger variable's value is
//
//	rdl1:<target key>:<base64(gzip(payload))>
//
// The key is in the clear so that a person looking at the variable in
// GitHub's settings page sees which hook it belongs to; it is repeated in the
// payload, and the two must agree. The base64 alphabet has no ':', so the key
// is everything between the tag and the last ':'.
//
// The payload is text, one line per record, fields separated by tabs:
//
//	line 1:   key  count  base
//	line 2..: guid state event action attemptID attemptAt firstSeen requests
//	          lastRequest intentAt seen seenMark updated
//
// Strings (key, guid, event, action) keep the printable ASCII bytes except
// '%' as they are and write every other byte as %XX, so any string round-trips
// exactly. State is one letter (f p r x e). Counts are decimal, "" for 0.
// Ids are parsed with strconv.ParseInt, never through a float. Records are
// sorted by attempt id, and most numbers are differences, which keeps them
// short (digits are most of what gzip cannot squeeze):
//
//   - attemptID: from the previous record's (the first from 0);
//   - seenMark: attemptID − seenMark, "" when seenMark is 0;
//   - attemptAt: from the last non-zero attemptAt of an earlier record (the
//     first from base);
//   - firstSeen, lastRequest, intentAt: from the record's own attemptAt (from
//     base when that is zero);
//   - updated: from base, the header's smallest Unix second of any time.
//
// A time is "" for the zero time, otherwise that difference in whole seconds,
// followed by ".<fraction>" (1 to 9 digits) when the time has sub-second
// precision. Times are therefore exact to the nanosecond and decoded in UTC;
// GitHub's own times (delivered_at, the Date header) are whole seconds and
// cost no fraction.

// ledgerTag is the version tag every ledger value starts with.
const ledgerTag = "rdl1:"

// maxPayload bounds the decompressed payload a ledger value may expand to, so
// a crafted value cannot exhaust memory. A full ledger is far smaller.
const maxPayload = 16 << 20

// Unix seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range of
// times the ledger (and the checkpoint) accept.
const (
	minUnix = -62135596800
	maxUnix = 253402300799
)

var stateCodes = map[redeliver.State]byte{
	redeliver.StateFailed:    'f',
	redeliver.StatePending:   'p',
	redeliver.StateRecovered: 'r',
	redeliver.StateExhausted: 'x',
	redeliver.StateExpired:   'e',
}

func stateOf(code string) (redeliver.State, bool) {
	if len(code) == 1 {
		for s, c := range stateCodes {
			if c == code[0] {
				return s, true
			}
		}
	}
	return "", false
}

const recordFields = 13

// encodeLedger returns the variable value holding entries for key. The
// entries must have passed validEntry.
func encodeLedger(key string, entries []redeliver.LedgerEntry) (string, error) {
	es := slices.Clone(entries)
	slices.SortFunc(es, func(a, b redeliver.LedgerEntry) int {
		if c := cmp.Compare(a.AttemptID, b.AttemptID); c != 0 {
			return c
		}
		return strings.Compare(a.GUID, b.GUID)
	})
	var base int64
	first := true
	for _, e := range es {
		for _, t := range entryTimes(&e) {
			if !t.IsZero() && (first || t.Unix() < base) {
				base, first = t.Unix(), false
			}
		}
	}

	var p []byte
	p = appendEscaped(p, key)
	p = append(p, '\t')
	p = strconv.AppendInt(p, int64(len(es)), 10)
	p = append(p, '\t')
	p = strconv.AppendInt(p, base, 10)
	p = append(p, '\n')
	c := cursor{at: base}
	for _, e := range es {
		ref := c.ref(e.AttemptAt, base)
		p = appendEscaped(p, e.GUID)
		p = append(p, '\t', stateCodes[e.State], '\t')
		p = appendEscaped(p, e.Event)
		p = append(p, '\t')
		p = appendEscaped(p, e.Action)
		p = append(p, '\t')
		p = appendCount(p, e.AttemptID-c.id)
		p = append(p, '\t')
		p = appendTime(p, e.AttemptAt, c.at)
		p = append(p, '\t')
		p = appendTime(p, e.FirstSeen, ref)
		p = append(p, '\t')
		p = appendCount(p, int64(e.Requests))
		p = append(p, '\t')
		p = appendTime(p, e.LastRequest, ref)
		p = append(p, '\t')
		p = appendTime(p, e.IntentAt, ref)
		p = append(p, '\t')
		p = appendCount(p, int64(e.Seen))
		p = append(p, '\t')
		if e.SeenMark != 0 {
			p = strconv.AppendInt(p, e.AttemptID-e.SeenMark, 10)
		}
		p = append(p, '\t')
		p = appendTime(p, e.Updated, base)
		p = append(p, '\n')
		c.next(e)
	}

	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := zw.Write(p); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return ledgerTag + key + ":" + base64.StdEncoding.EncodeToString(z.Bytes()), nil
}

// decodeLedger parses a ledger variable's value. Its errors say what is wrong
// but not where; the caller names the variable.
func decodeLedger(value string) (key string, entries []redeliver.LedgerEntry, err error) {
	value = strings.TrimSpace(value)
	rest, ok := strings.CutPrefix(value, ledgerTag)
	if !ok {
		return "", nil, fmt.Errorf("it does not start with %q", ledgerTag)
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", nil, errors.New("no ':' between the target key and the data")
	}
	key, data := rest[:i], rest[i+1:]
	if key == "" {
		return "", nil, errors.New("the target key is empty")
	}
	z, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return "", nil, fmt.Errorf("bad base64: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return "", nil, fmt.Errorf("bad gzip: %w", err)
	}
	p, err := io.ReadAll(io.LimitReader(zr, maxPayload+1))
	if err != nil {
		return "", nil, fmt.Errorf("bad gzip: %w", err)
	}
	if len(p) > maxPayload {
		return "", nil, fmt.Errorf("the data expands to more than %d bytes", maxPayload)
	}
	lines := strings.Split(string(p), "\n")
	if len(lines) < 2 || lines[len(lines)-1] != "" {
		return "", nil, errors.New("the data does not end with a newline")
	}
	lines = lines[:len(lines)-1]

	h := strings.Split(lines[0], "\t")
	if len(h) != 3 {
		return "", nil, fmt.Errorf("header has %d fields, want 3", len(h))
	}
	hkey, err := unescape(h[0])
	if err != nil {
		return "", nil, fmt.Errorf("header key: %w", err)
	}
	if hkey != key {
		return "", nil, fmt.Errorf("the key in the data (%q) is not the key before it (%q)", hkey, key)
	}
	count, err := strconv.Atoi(h[1])
	if err != nil || count != len(lines)-1 {
		return "", nil, fmt.Errorf("header says %q records, the data has %d", h[1], len(lines)-1)
	}
	base, err := strconv.ParseInt(h[2], 10, 64)
	if err != nil || base < minUnix || base > maxUnix {
		return "", nil, fmt.Errorf("header base time %q is not a Unix second in years 1 to 9999", h[2])
	}

	entries = make([]redeliver.LedgerEntry, 0, count)
	seen := make(map[string]struct{}, count)
	c := cursor{at: base}
	for n, line := range lines[1:] {
		e, err := c.decode(line, base)
		if err != nil {
			return "", nil, fmt.Errorf("record %d: %w", n+1, err)
		}
		if _, dup := seen[e.GUID]; dup {
			return "", nil, fmt.Errorf("record %d: guid %q appears twice", n+1, e.GUID)
		}
		seen[e.GUID] = struct{}{}
		c.next(e)
		entries = append(entries, e)
	}
	return key, entries, nil
}

// cursor carries what a record is written relative to: the previous
// record's attempt id and the second of the last non-zero attempt time.
type cursor struct {
	id int64
	at int64
}

// ref is the second a record's other times are written relative to: its
// attempt time's, or base when it has none.
func (c *cursor) ref(attemptAt time.Time, base int64) int64 {
	if attemptAt.IsZero() {
		return base
	}
	return attemptAt.Unix()
}

func (c *cursor) next(e redeliver.LedgerEntry) {
	c.id = e.AttemptID
	if !e.AttemptAt.IsZero() {
		c.at = e.AttemptAt.Unix()
	}
}

func (c *cursor) decode(line string, base int64) (e redeliver.LedgerEntry, err error) {
	f := strings.Split(line, "\t")
	if len(f) != recordFields {
		return e, fmt.Errorf("%d fields, want %d", len(f), recordFields)
	}
	if e.GUID, err = unescape(f[0]); err != nil {
		return e, fmt.Errorf("guid: %w", err)
	}
	var ok bool
	if e.State, ok = stateOf(f[1]); !ok {
		return e, fmt.Errorf("unknown state %q", f[1])
	}
	if e.Event, err = unescape(f[2]); err != nil {
		return e, fmt.Errorf("event: %w", err)
	}
	if e.Action, err = unescape(f[3]); err != nil {
		return e, fmt.Errorf("action: %w", err)
	}
	d, err := parseCount(f[4], true)
	if err != nil {
		return e, fmt.Errorf("attempt id: %w", err)
	}
	if e.AttemptID, ok = add(c.id, d); !ok {
		return e, errors.New("attempt id: out of range")
	}
	if e.AttemptAt, err = parseTime(f[5], c.at); err != nil {
		return e, fmt.Errorf("attempt time: %w", err)
	}
	ref := c.ref(e.AttemptAt, base)
	if e.FirstSeen, err = parseTime(f[6], ref); err != nil {
		return e, fmt.Errorf("first seen: %w", err)
	}
	n, err := parseCount(f[7], false)
	if err != nil {
		return e, fmt.Errorf("requests: %w", err)
	}
	e.Requests = int(n)
	if e.LastRequest, err = parseTime(f[8], ref); err != nil {
		return e, fmt.Errorf("last request: %w", err)
	}
	if e.IntentAt, err = parseTime(f[9], ref); err != nil {
		return e, fmt.Errorf("intent: %w", err)
	}
	if n, err = parseCount(f[10], false); err != nil {
		return e, fmt.Errorf("seen: %w", err)
	}
	e.Seen = int(n)
	if f[11] != "" {
		d, err := parseCount(f[11], true)
		if err != nil {
			return e, fmt.Errorf("seen mark: %w", err)
		}
		if e.SeenMark, ok = add(e.AttemptID, -d); !ok || d == minInt64 {
			return e, errors.New("seen mark: out of range")
		}
		if e.SeenMark == 0 {
			return e, errors.New("seen mark: 0 must be written as an empty field")
		}
	}
	if e.Updated, err = parseTime(f[12], base); err != nil {
		return e, fmt.Errorf("updated: %w", err)
	}
	if err := validEntry(e); err != nil {
		return e, err
	}
	return e, nil
}

// validEntry reports what the ledger cannot hold about e: an empty guid, an
// unknown state, a negative id or count, a time outside years 1 to 9999.
func validEntry(e redeliver.LedgerEntry) error {
	switch {
	case e.GUID == "":
		return errors.New("empty guid")
	case !e.State.Valid():
		return fmt.Errorf("guid %q: unknown state %q", e.GUID, e.State)
	case e.AttemptID < 0 || e.SeenMark < 0:
		return fmt.Errorf("guid %q: negative attempt id", e.GUID)
	case e.Requests < 0 || e.Seen < 0:
		return fmt.Errorf("guid %q: negative count", e.GUID)
	}
	for _, t := range entryTimes(&e) {
		if !t.IsZero() && (t.Unix() < minUnix || t.Unix() > maxUnix) {
			return fmt.Errorf("guid %q: time %s outside years 1 to 9999", e.GUID, t)
		}
	}
	return nil
}

// normalize returns e with its times in UTC and without monotonic readings,
// the form decodeLedger returns, so that == compares entries by value.
func normalize(e redeliver.LedgerEntry) redeliver.LedgerEntry {
	for _, t := range entryTimes(&e) {
		if t.IsZero() {
			*t = time.Time{}
		} else {
			*t = t.UTC().Round(0)
		}
	}
	return e
}

// entryTimes returns pointers to every time field of e.
func entryTimes(e *redeliver.LedgerEntry) []*time.Time {
	return []*time.Time{&e.FirstSeen, &e.AttemptAt, &e.LastRequest, &e.IntentAt, &e.Updated}
}

const minInt64 = -1 << 63

// add returns a+b and whether it did not overflow.
func add(a, b int64) (int64, bool) {
	c := a + b
	return c, (c > a) == (b > 0)
}

func appendCount(p []byte, n int64) []byte {
	if n == 0 {
		return p
	}
	return strconv.AppendInt(p, n, 10)
}

// parseCount parses a decimal count ("" is 0); signed allows a minus sign.
func parseCount(s string, signed bool) (int64, error) {
	if s == "" {
		return 0, nil
	}
	digits := s
	if signed {
		digits = strings.TrimPrefix(s, "-")
	}
	if !isDigits(digits) {
		return 0, fmt.Errorf("%q is not a decimal integer", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return n, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func appendTime(p []byte, t time.Time, base int64) []byte {
	if t.IsZero() {
		return p
	}
	p = strconv.AppendInt(p, t.Unix()-base, 10)
	if ns := t.Nanosecond(); ns != 0 {
		frac := strconv.AppendInt(nil, int64(ns)+1e9, 10)[1:] // 9 digits
		p = append(p, '.')
		p = append(p, bytes.TrimRight(frac, "0")...)
	}
	return p
}

func parseTime(s string, base int64) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	sec, frac, hasFrac := strings.Cut(s, ".")
	d, err := parseCount(sec, true)
	if err != nil || sec == "" {
		return time.Time{}, fmt.Errorf("%q is not a time", s)
	}
	var ns int64
	if hasFrac {
		if len(frac) > 9 || !isDigits(frac) {
			return time.Time{}, fmt.Errorf("%q has a bad fraction of a second", s)
		}
		ns, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	u, ok := add(base, d)
	if !ok || u < minUnix || u > maxUnix {
		return time.Time{}, fmt.Errorf("%q is outside years 1 to 9999", s)
	}
	return time.Unix(u, ns).UTC(), nil
}

// appendEscaped writes s keeping printable ASCII except '%' and writing any
// other byte as %XX.
func appendEscaped(p []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f && c != '%' {
			p = append(p, c)
		} else {
			p = append(p, '%', hex[c>>4], hex[c&15])
		}
	}
	return p
}

func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] >= 0x7f {
				return "", fmt.Errorf("raw byte %#x", s[i])
			}
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", errors.New("'%' not followed by two hex digits")
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", errors.New("'%' not followed by two hex digits")
			}
			b = append(b, hi<<4|lo)
			i += 2
		case c <= ' ' || c >= 0x7f:
			return "", fmt.Errorf("raw byte %#x", c)
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
