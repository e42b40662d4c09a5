package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/redeliver/redeliver"
)

// itemSpool keeps every item of a run's reports in an unlinked temporary
// file, so that --report lists them all while the reports in memory (and
// the --output json on stdout) keep at most redeliver.DefaultMaxItems: a
// run over a million failed events keeps a flat memory either way.
type itemSpool struct {
	f     *os.File
	w     *bufio.Writer
	at    int64                          // bytes written
	start int64                          // where the next target's items begin
	spans map[*redeliver.Report][2]int64 // each target's items in f
	err   error                          // the first write error
	mu    sync.Mutex                     // targets worked on at once end at once
	_     struct{}                       // not comparable
}

// newItemSpool makes the spool in the system's temporary directory.
func newItemSpool() (*itemSpool, error) {
	f, err := os.CreateTemp("", "redeliver-items-*.jsonl")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // the open file is enough; nothing is left behind
	return &itemSpool{f: f, w: bufio.NewWriter(f), spans: map[*redeliver.Report][2]int64{}}, nil
}

func (s *itemSpool) close() error { return s.f.Close() }

// spoolMark stands for a target's items in the report until they are
// copied in from the spool.
const spoolMark = "\x00spooled items "

// write writes r to w as writeReportFile does, with every spooled item of
// each target that had more than its report holds.
func (s *itemSpool) write(w io.Writer, r *runResult) error {
	if s.err != nil {
		return fmt.Errorf("keeping the report's items: %w", s.err)
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("keeping the report's items: %w", err)
	}
	// A copy of the result whose long item lists are one marked item each.
	cp := *r
	cp.Targets = make([]*redeliver.Report, len(r.Targets))
	var spans [][2]int64
	for i, rep := range r.Targets {
		cp.Targets[i] = rep
		span, ok := s.spans[rep]
		if !ok || rep.ItemsOmitted == 0 {
			continue
		}
		c := *rep
		c.Items = []redeliver.Item{{GUID: fmt.Sprint(spoolMark, len(spans))}}
		c.ItemsOmitted = 0 // all of them are in the file
		cp.Targets[i] = &c
		spans = append(spans, span)
	}
	b, err := json.MarshalIndent(&cp, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	bw := bufio.NewWriter(w)
	for i, span := range spans {
		mark, _ := json.Marshal(fmt.Sprint(spoolMark, i))
		at := bytes.Index(b, mark)
		open := bytes.LastIndexByte(b[:at], '{')
		end := at + bytes.IndexByte(b[at:], '}') + 1 // the marked item has no nested object
		bw.Write(b[:open])
		if err := s.copyItems(bw, span); err != nil {
			return fmt.Errorf("copying the report's items: %w", err)
		}
		b = b[end:]
	}
	bw.Write(b)
	return bw.Flush()
}

// copyItems writes one target's spooled items, comma-separated.
func (s *itemSpool) copyItems(w *bufio.Writer, span [2]int64) error {
	sc := bufio.NewScanner(io.NewSectionReader(s.f, span[0], span[1]-span[0]))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	first := true
	for sc.Scan() {
		if !first {
			w.WriteString(",\n      ")
		}
		first = false
		w.Write(sc.Bytes())
	}
	return sc.Err()
}

// target starts the items of one target. Targets worked on at once each
// write to their own unlinked file, copied into the spool in one piece
// when the target ends, so each target's items stay together.
func (s *itemSpool) target() *targetItems {
	ti := &targetItems{s: s}
	if f, err := os.CreateTemp("", "redeliver-items-*.jsonl"); err != nil {
		ti.err = err
	} else {
		os.Remove(f.Name())
		ti.f, ti.w = f, bufio.NewWriter(f)
	}
	return ti
}

// targetItems are one target's items while it runs (Runner.OnItem).
type targetItems struct {
	s   *itemSpool
	f   *os.File
	w   *bufio.Writer
	err error
}

func (t *targetItems) add(it redeliver.Item) {
	if t.err != nil {
		return
	}
	b, err := json.Marshal(it)
	if err != nil {
		t.err = err
		return
	}
	_, t.err = t.w.Write(append(b, '\n'))
}

// end copies the target's items into the spool: they belong to rep. A
// report that holds every item needs none of them from the spool.
func (t *targetItems) end(rep *redeliver.Report) {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.f != nil {
		defer t.f.Close()
	}
	if rep.ItemsOmitted == 0 {
		return
	}
	if t.err == nil {
		t.err = t.w.Flush()
	}
	if t.err == nil {
		_, t.err = t.f.Seek(0, io.SeekStart)
	}
	if t.err == nil {
		var n int64
		n, t.err = io.Copy(s.w, t.f)
		s.at += n
	}
	if t.err != nil && s.err == nil {
		s.err = t.err
	}
	s.spans[rep] = [2]int64{s.start, s.at}
	s.start = s.at
}
