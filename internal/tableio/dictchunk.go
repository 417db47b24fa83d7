package tableio

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// maxFewStrings is the most distinct values a string column chunk may
// have for stringDictionary to write it (the symbols of a wide table).
const maxFewStrings = 64

// stringDictionary writes a dictionary-encoded string column chunk whose
// values are few (the symbol column) as dictionary indices, found by
// comparing each value with the one before and the chunk's few entries:
// arrow-go hashes every value into its dictionary and takes the string
// statistics value by value, 6% of `fdag compute`'s CPU at 1M rows
// (bench/README.md). The chunk's first batch fixes its dictionary (put
// into arrow-go's encoder, which writes the dictionary page and the RLE
// indices as before) and the statistics come from the entries used.
// catalog/featurefiles.go writes ft_features' constant columns the same
// way.
type stringDictionary struct {
	mem     memory.Allocator
	entries []string // the chunk's dictionary, in order of first use
	put     bool     // entries are in the chunk's encoder
	dense   bool     // the rest of the chunk goes through pqarrow
	idx     []int32
	used    []bool
}

// DictionaryEncoder is the part of arrow-go's Parquet dictionary encoder
// (a dictionary-encoded column chunk writer's CurrentEncoder) that a
// dictionary found without hashing is put into.
type DictionaryEncoder interface {
	Encoding() parquet.Encoding
	NumEntries() int
	NormalizeDict(arrow.Array) (arrow.Array, error)
	PutDictionary(arrow.Array) error
}

// PutDictionary makes dict (distinct values) the dictionary of enc, which
// has none yet, so that index k stands for dict's value k in the indices
// written with the column chunk writer's WriteDictIndices.
func PutDictionary(enc DictionaryEncoder, dict arrow.Array) error {
	norm, err := enc.NormalizeDict(dict)
	if err != nil {
		return err
	}
	err = enc.PutDictionary(norm)
	norm.Release()
	if err != nil {
		return err
	}
	if enc.NumEntries() != dict.Len() {
		return fmt.Errorf("a dictionary of %d entries holds %d", dict.Len(), enc.NumEntries())
	}
	return nil
}

// start begins a new column chunk.
func (d *stringDictionary) start() {
	d.entries, d.put, d.dense = d.entries[:0], false, false
}

// write writes arr (def: its definition levels, nil for a required
// column) to cw as indices; false when arr is to be written as it is
// (not a string array, nulls, too many values, a value the chunk's
// dictionary lacks, no dictionary encoder).
func (d *stringDictionary) write(cw file.ColumnChunkWriter, arr arrow.Array, def []int16) (bool, error) {
	a, ok := arr.(*array.String)
	enc, isDict := cw.CurrentEncoder().(DictionaryEncoder)
	if d.dense || !ok || !isDict || a.Len() == 0 || a.NullN() > 0 ||
		(enc.Encoding() != parquet.Encodings.PlainDict && enc.Encoding() != parquet.Encodings.RLEDict) ||
		(!d.put && enc.NumEntries() > 0) {
		d.dense = true
		return false, nil
	}
	if !d.indices(a) {
		d.dense = true
		return false, nil
	}
	if !d.put {
		dict := stringValues(d.mem, d.entries)
		err := PutDictionary(enc, dict)
		dict.Release()
		if err != nil {
			return false, err
		}
		d.put = true
	}
	if stats := cw.PageStatistics(); stats != nil {
		var used []string
		for k, u := range d.used {
			if u {
				used = append(used, d.entries[k])
			}
		}
		ref := stringValues(d.mem, used)
		defer ref.Release()
		stats.IncNulls(0)
		stats.IncNumValues(int64(a.Len()))
		if err := stats.UpdateFromArrow(ref, false); err != nil {
			return false, err
		}
	}
	data := array.NewData(arrow.PrimitiveTypes.Int32, a.Len(),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(d.idx))}, nil, 0, 0)
	indices := array.MakeFromData(data)
	data.Release()
	defer indices.Release()
	return true, cw.WriteDictIndices(indices, def, nil)
}

// indices sets d.idx to the entry of each value of a and d.used to the
// entries it uses; new values become entries only before the dictionary
// is put, up to maxFewStrings. false: a value is not an entry.
func (d *stringDictionary) indices(a *array.String) bool {
	n := a.Len()
	if cap(d.idx) < n {
		d.idx = make([]int32, n)
	}
	d.idx = d.idx[:n]
	d.used = d.used[:0]
	for range d.entries {
		d.used = append(d.used, false)
	}
	prev, cur := "", int32(-1)
	for i := range n {
		if v := a.Value(i); cur < 0 || v != prev {
			if cur = int32(slices.Index(d.entries, v)); cur < 0 {
				if d.put || len(d.entries) == maxFewStrings {
					return false
				}
				cur = int32(len(d.entries))
				d.entries = append(d.entries, strings.Clone(v))
				d.used = append(d.used, false)
			}
			d.used[cur] = true
			prev = v
		}
		d.idx[i] = cur
	}
	return true
}

func stringValues(mem memory.Allocator, vs []string) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.AppendValues(vs, nil)
	return b.NewArray()
}
