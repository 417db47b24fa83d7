package tableio

import (
	"io"
	"sync"
)

// asyncWriterBuffer is the size of each of asyncWriter's two buffers.
const asyncWriterBuffer = 4 << 20

// asyncWriter buffers writes to w and hands each full buffer to a
// goroutine that writes it while the next one fills. A Parquet writer
// copies a row group's column chunks to the file in one serial step, and
// the write(2) calls under it (1 MiB each through bufio) were 13% of
// `fdag compute`'s CPU samples at 10M rows, on the writer's critical
// path; here they overlap the encoding of the next row group, in 4 MiB
// writes (at 10M rows the process's system time fell from 4.2 to 2.5-2.8
// s, bench/README.md). The first write error is returned by the next
// Write or by Flush; Flush must be called before w is used or closed.
type asyncWriter struct {
	w    io.Writer
	buf  []byte        // filling
	free chan []byte   // an empty buffer, back from the goroutine
	full chan []byte   // to write; nil once flushed
	done chan struct{} // the goroutine ended (after full closed)
	mu   sync.Mutex
	err  error // the goroutine's first error
}

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{w: w, buf: make([]byte, 0, asyncWriterBuffer), free: make(chan []byte, 2),
		full: make(chan []byte, 1), done: make(chan struct{})}
	a.free <- make([]byte, 0, asyncWriterBuffer)
	go a.run(a.full)
	return a
}

func (a *asyncWriter) run(full <-chan []byte) {
	defer close(a.done)
	var err error
	for b := range full {
		if err == nil {
			if _, err = a.w.Write(b); err != nil {
				a.mu.Lock()
				a.err = err
				a.mu.Unlock()
			}
		}
		a.free <- b[:0]
	}
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if len(a.buf) == cap(a.buf) {
			if err := a.hand(); err != nil {
				return n, err
			}
		}
		k := copy(a.buf[len(a.buf):cap(a.buf)], p)
		a.buf = a.buf[:len(a.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

// hand gives the filled buffer to the goroutine and takes the other one.
func (a *asyncWriter) hand() error {
	a.full <- a.buf
	a.buf = <-a.free
	return a.error()
}

func (a *asyncWriter) error() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Flush writes what is buffered and waits for the goroutine to end; the
// writer is then closed.
func (a *asyncWriter) Flush() error {
	if a.full == nil {
		return a.error()
	}
	if len(a.buf) > 0 {
		a.full <- a.buf
		a.buf = nil
	}
	close(a.full)
	a.full = nil
	<-a.done
	return a.error()
}
