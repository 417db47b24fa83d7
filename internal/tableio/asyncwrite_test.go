package tableio

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestAsyncWriter writes pieces smaller than, equal to and larger than
// its buffers and gets the same bytes, in order; a failing writer's error
// comes back from a later Write or from Flush.
func TestAsyncWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	want := make([]byte, 3*asyncWriterBuffer+12345)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	var got bytes.Buffer
	a := newAsyncWriter(&got)
	for rest := want; len(rest) > 0; {
		n := min(len(rest), []int{1, 100, asyncWriterBuffer, asyncWriterBuffer + 7, 70_000}[rng.IntN(5)])
		if k, err := a.Write(rest[:n]); k != n || err != nil {
			t.Fatalf("Write: %d, %v", k, err)
		}
		rest = rest[n:]
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("wrote %d bytes, not the %d given", got.Len(), len(want))
	}
	if err := a.Flush(); err != nil {
		t.Errorf("a second Flush: %v", err)
	}

	boom := errors.New("disk full")
	a = newAsyncWriter(failingWriter{boom})
	var err error
	for i := 0; i < 4 && err == nil; i++ {
		_, err = a.Write(want[:asyncWriterBuffer])
	}
	if ferr := a.Flush(); !errors.Is(err, boom) && !errors.Is(ferr, boom) {
		t.Errorf("Write: %v, Flush: %v; want %v", err, ferr, boom)
	}
	if err := a.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush after the failure: %v", err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }
