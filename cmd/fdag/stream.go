package main

import (
	"context"
	"errors"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/tableio"
	"github.com/featuredag/fdag/ir"
)

// errNotStreamable says the streaming write gave up (and wrote nothing):
// rows of a symbol go back in time across batches, or a kernel failed on
// the data after the file's schema, statuses included, was written. The
// caller then computes in one go.
var errNotStreamable = errors.New("not streamable")

// writeStreaming computes the features batch by batch with compute.Stream
// and writes each output batch as soon as it is computed, a goroutine
// computing the next batch while the last one is encoded. Peak memory is
// the input plus a few batches instead of the input plus the whole output,
// and computing overlaps writing. It returns the statuses, or
// errNotStreamable.
func writeStreaming(ctx context.Context, tbl arrow.Table, specs []ir.Spec, opts compute.Options, output string, wopts tableio.WriteOptions) ([]compute.FeatureStatus, error) {
	s, err := compute.NewStream(specs, tbl.Schema(), opts)
	if err != nil {
		// A request that cannot run at all: the one-shot path reports it
		// in its own words.
		return nil, errNotStreamable
	}
	initial := s.Statuses()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &streamReader{schema: s.Schema(), batches: make(chan arrow.RecordBatch, 2), done: make(chan struct{})}
	go func() {
		// done closes before batches, so that the reader, seeing the end
		// of the batches, finds err set.
		defer close(out.batches)
		defer close(out.done)
		tr := array.NewTableReader(tbl, tableio.DefaultBatchRows)
		defer tr.Release()
		for tr.Next() {
			rec, err := s.Process(ctx, tr.RecordBatch())
			if err != nil {
				out.err = err
				return
			}
			select {
			case out.batches <- rec:
			case <-ctx.Done():
				rec.Release()
				return
			}
		}
	}()
	err = tableio.WriteRecords(ctx, output, out, wopts)
	cancel()
	for rec := range out.batches { // after a failed write: release what is queued
		rec.Release()
	}
	<-out.done
	var ooo *compute.OutOfOrderError
	switch {
	case errors.As(out.err, &ooo):
		return nil, errNotStreamable
	case out.err != nil:
		return nil, out.err
	case err != nil:
		return nil, err
	}
	sts := s.Statuses()
	if !slices.Equal(sts, initial) {
		return nil, errNotStreamable // a feature failed mid-stream: the file's metadata says otherwise
	}
	return sts, nil
}

// streamReader hands the computed batches to the writer as a RecordReader.
type streamReader struct {
	schema  *arrow.Schema
	batches chan arrow.RecordBatch
	done    chan struct{}
	err     error // the producer's, read after done is closed
	cur     arrow.RecordBatch
}

func (r *streamReader) Schema() *arrow.Schema { return r.schema }

func (r *streamReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	rec, ok := <-r.batches
	if !ok {
		return false
	}
	r.cur = rec
	return true
}

func (r *streamReader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is RecordBatch (the interface's deprecated name).
func (r *streamReader) Record() arrow.RecordBatch { return r.cur }

// Err is the producer's error once the batches have ended.
func (r *streamReader) Err() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

func (r *streamReader) Retain() {}

func (r *streamReader) Release() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}
