package main

import (
	"bytes"
	"io"
)

// indentWriter prefixes each line with two spaces.
type indentWriter struct {
	w   io.Writer
	mid bool
}

func indent(w io.Writer) io.Writer { return &indentWriter{w: w} }

func (i *indentWriter) Write(p []byte) (int, error) {
	var b bytes.Buffer
	for _, c := range p {
		if !i.mid {
			b.WriteString("   ")
		}
		b.WriteByte(c)
		i.mid = c != '\n'
	}
	if _, err := i.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}
