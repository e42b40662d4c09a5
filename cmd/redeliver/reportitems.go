package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

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
	start int64                          // where the current target's items begin
	spans map[*redeliver.Report][2]int64 // each target's items in f
	err   error                          // the first write error
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

// add writes one item of the current target (Runner.OnItem).
func (s *itemSpool) add(it redeliver.Item) {
	if s.err != nil {
		return
	}
	b, err := json.Marshal(it)
	if err != nil {
		s.err = err
		return
	}
	b = append(b, '\n')
	n, err := s.w.Write(b)
	s.at += int64(n)
	s.err = err
}

// end closes the current target's items: they belong to rep.
func (s *itemSpool) end(rep *redeliver.Report) {
	s.spans[rep] = [2]int64{s.start, s.at}
	s.start = s.at
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
