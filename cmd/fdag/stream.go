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

// errNotParquetStream says the input is not read batch by batch (a CSV
// file, an integer time column to convert, a request that cannot run: the
// whole-table path reports it in its own words). Nothing was written.
var errNotParquetStream = errors.New("not a streamed Parquet read")

// computeParquetStreaming reads a Parquet input batch by batch, only the
// columns the features read, computes and writes as writeStreaming does:
// reading, computing and writing overlap, and the input is never held
// whole. It returns the statuses and the rows read, errNotStreamable or
// errNotParquetStream.
func computeParquetStreaming(ctx context.Context, input string, specs []ir.Spec, opts compute.Options, output string, wopts tableio.WriteOptions, timeUnit string) ([]compute.FeatureStatus, int64, error) {
	if format, err := tableio.FormatOf(input); err != nil || format != tableio.FormatParquet || timeUnit != "" {
		return nil, 0, errNotParquetStream
	}
	columns, err := tableio.Columns(input)
	if err != nil {
		return nil, 0, errNotParquetStream
	}
	plan, err := ir.CompileContext(ctx, specs, ir.Options{Registry: opts.Registry, Aliases: opts.Aliases, SourceColumns: columns})
	if err != nil {
		return nil, 0, errNotParquetStream
	}
	need := append([]string{opts.TimeColumn, opts.SymbolColumn}, plan.SourceColumns()...)
	rdr, err := tableio.OpenParquet(ctx, input, opts.Mem, need)
	if err != nil {
		return nil, 0, errNotParquetStream
	}
	defer rdr.Release()
	s, err := compute.NewStreamPlan(plan, rdr.Schema(), opts)
	if err != nil {
		return nil, 0, errNotParquetStream
	}
	return writeStreaming(ctx, s, rdr, output, wopts)
}

// computeTableStreaming is writeStreaming over a table in memory.
func computeTableStreaming(ctx context.Context, tbl arrow.Table, specs []ir.Spec, opts compute.Options, output string, wopts tableio.WriteOptions) ([]compute.FeatureStatus, error) {
	s, err := compute.NewStream(specs, tbl.Schema(), opts)
	if err != nil {
		// A request that cannot run at all: the one-shot path reports it
		// in its own words.
		return nil, errNotStreamable
	}
	tr := array.NewTableReader(tbl, tableio.DefaultBatchRows)
	defer tr.Release()
	sts, _, err := writeStreaming(ctx, s, tr, output, wopts)
	return sts, err
}

// writeStreaming computes the features of the batches of in with s and
// writes each output batch as soon as it is computed, a goroutine reading
// and computing the next batch while the last one is encoded. Peak memory
// is a few batches instead of the whole output, and computing overlaps
// writing. It returns the statuses and the rows read, or
// errNotStreamable.
func writeStreaming(ctx context.Context, s *compute.Stream, in array.RecordReader, output string, wopts tableio.WriteOptions) ([]compute.FeatureStatus, int64, error) {
	initial := s.Statuses()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &streamReader{schema: s.Schema(), batches: make(chan arrow.RecordBatch, 2), done: make(chan struct{})}
	var rows int64
	go func() {
		// done closes before batches, so that the reader, seeing the end
		// of the batches, finds err set.
		defer close(out.batches)
		defer close(out.done)
		for in.Next() {
			rows += in.RecordBatch().NumRows()
			rec, err := s.Process(ctx, in.RecordBatch())
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
		out.err = in.Err()
	}()
	err := tableio.WriteRecords(ctx, output, out, wopts)
	cancel()
	for rec := range out.batches { // after a failed write: release what is queued
		rec.Release()
	}
	<-out.done
	var ooo *compute.OutOfOrderError
	switch {
	case errors.As(out.err, &ooo):
		return nil, 0, errNotStreamable
	case out.err != nil:
		return nil, 0, out.err
	case err != nil:
		return nil, 0, err
	}
	sts := s.Statuses()
	if !slices.Equal(sts, initial) {
		return nil, 0, errNotStreamable // a feature failed mid-stream: the file's metadata says otherwise
	}
	return sts, rows, nil
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
