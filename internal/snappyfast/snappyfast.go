// Package snappyfast makes every Parquet writer of the process compress
// Snappy pages with the fast Snappy encoder instead of the "better" one.
// Import it for its side effect:
//
//	import _ "github.com/featuredag/fdag/internal/snappyfast"
//
// arrow-go's Snappy codec calls klauspost/compress/snappy.Encode, which is
// s2.EncodeSnappyBetter: on float64 feature columns (which hardly compress)
// it was about half the CPU time of writing a Parquet file
// (BenchmarkWriteParquet, bench/README.md). s2.EncodeSnappy writes the same
// Snappy block format, a little larger, in a fraction of the time; any
// Snappy reader (pyarrow, Polars, DuckDB, Spark) reads it. Decoding is
// unchanged. arrow-go's only hook for this is its global codec registry,
// so the choice is process-wide: tableio's files and the Iceberg data files
// of the catalog alike.
package snappyfast

import (
	"io"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
)

type codec struct{}

func (codec) Encode(dst, src []byte) []byte             { return s2.EncodeSnappy(dst, src) }
func (codec) EncodeLevel(dst, src []byte, _ int) []byte { return s2.EncodeSnappy(dst, src) }
func (codec) Decode(dst, src []byte) []byte {
	dst, err := snappy.Decode(dst, src)
	if err != nil {
		panic(err) // as arrow-go's codec: Decode has no error to return
	}
	return dst
}
func (codec) DecodeWithError(dst, src []byte) ([]byte, error) { return snappy.Decode(dst, src) }
func (codec) NewReader(r io.Reader) io.ReadCloser             { return io.NopCloser(snappy.NewReader(r)) }
func (codec) CompressBound(n int64) int64                     { return int64(snappy.MaxEncodedLen(int(n))) }
func (codec) NewWriter(w io.Writer) io.WriteCloser            { return snappy.NewBufferedWriter(w) }
func (c codec) NewWriterLevel(w io.Writer, _ int) (io.WriteCloser, error) {
	return c.NewWriter(w), nil
}

func init() {
	compress.RegisterCodec(compress.Codecs.Snappy, codec{})
}
