package compute

import (
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// numericColumn is a source column seen as float64 values plus validity.
// A float64 column is used in place (zero copy); other numeric types are
// converted once.
type numericColumn struct {
	values []float64
	bits   []byte // validity bitmap, nil when the column has no nulls
	offset int    // bit offset into bits
	keep   arrow.Array
}

func (c *numericColumn) release() {
	if c.keep != nil {
		c.keep.Release()
		c.keep = nil
	}
}

// valid reports whether row i holds a value.
func (c *numericColumn) valid(i int) bool {
	return c.bits == nil || bitutil.BitIsSet(c.bits, c.offset+i)
}

// single returns the column as one array, concatenating chunks if needed.
// The caller releases the result.
func single(col *arrow.Chunked, pool memory.Allocator) (arrow.Array, error) {
	chunks := col.Chunks()
	switch len(chunks) {
	case 0:
		return array.MakeArrayOfNull(pool, col.DataType(), 0), nil
	case 1:
		chunks[0].Retain()
		return chunks[0], nil
	default:
		return array.Concatenate(chunks, pool)
	}
}

// isNumeric reports whether a column of type dt can feed the kernels.
func isNumeric(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.FLOAT64, arrow.FLOAT32, arrow.FLOAT16,
		arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.BOOL, arrow.DECIMAL128, arrow.DECIMAL256:
		return true
	}
	return false
}

// isString reports whether a column of type dt holds strings that can be
// compared with a literal (dictionary-encoded strings included).
func isString(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return true
	case arrow.DICTIONARY:
		return isString(dt.(*arrow.DictionaryType).ValueType)
	}
	return false
}

// newMatchColumn compares the string column arr (isString) with lit: 1
// where it equals lit (differs, when ne), 0 elsewhere, null where arr is
// null. It takes over the caller's reference to arr (kept for the null
// bitmap). A dictionary compares each dictionary entry once.
func newMatchColumn(arr arrow.Array, lit string, ne bool) (*numericColumn, error) {
	c := &numericColumn{keep: arr, values: make([]float64, arr.Len())}
	if arr.NullN() > 0 {
		c.bits = arr.NullBitmapBytes()
		c.offset = arr.Data().Offset()
	}
	yes, no := 1.0, 0.0
	if ne {
		yes, no = 0, 1
	}
	set := func(i int, eq bool) {
		if eq {
			c.values[i] = yes
		} else {
			c.values[i] = no
		}
	}
	switch a := arr.(type) {
	case *array.String:
		for i := range c.values {
			set(i, a.Value(i) == lit)
		}
	case *array.LargeString:
		for i := range c.values {
			set(i, a.Value(i) == lit)
		}
	case *array.StringView:
		for i := range c.values {
			set(i, a.Value(i) == lit)
		}
	case *array.Dictionary:
		dict := a.Dictionary()
		match := make([]bool, dict.Len())
		for k := range match {
			match[k] = dict.IsValid(k) && dict.ValueStr(k) == lit
		}
		for i := range c.values {
			if a.IsValid(i) {
				set(i, match[a.GetValueIndex(i)])
			}
		}
	default:
		return nil, fmt.Errorf("type %s is not a string", arr.DataType())
	}
	return c, nil
}

// newNumericColumn views arr (which must satisfy isNumeric) as float64.
// It takes over the caller's reference to arr.
func newNumericColumn(arr arrow.Array) (*numericColumn, error) {
	c := &numericColumn{keep: arr}
	if arr.NullN() > 0 {
		c.bits = arr.NullBitmapBytes()
		c.offset = arr.Data().Offset()
	}
	n := arr.Len()
	switch a := arr.(type) {
	case *array.Float64:
		c.values = a.Float64Values()
		return c, nil
	case *array.Float32:
		c.values = convert(a.Float32Values())
	case *array.Int8:
		c.values = convert(a.Int8Values())
	case *array.Int16:
		c.values = convert(a.Int16Values())
	case *array.Int32:
		c.values = convert(a.Int32Values())
	case *array.Int64:
		c.values = convert(a.Int64Values())
	case *array.Uint8:
		c.values = convert(a.Uint8Values())
	case *array.Uint16:
		c.values = convert(a.Uint16Values())
	case *array.Uint32:
		c.values = convert(a.Uint32Values())
	case *array.Uint64:
		c.values = convert(a.Uint64Values())
	default:
		// Rare types (bool, float16, decimals) go through the generic
		// per-value path; they are not worth a specialised loop.
		c.values = make([]float64, n)
		for i := range n {
			if !arr.IsValid(i) {
				continue
			}
			v, err := genericFloat(arr, i)
			if err != nil {
				return nil, err
			}
			c.values[i] = v
		}
	}
	return c, nil
}

func convert[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32](src []T) []float64 {
	out := make([]float64, len(src))
	for i, v := range src {
		out[i] = float64(v)
	}
	return out
}

func genericFloat(arr arrow.Array, i int) (float64, error) {
	switch a := arr.(type) {
	case *array.Boolean:
		if a.Value(i) {
			return 1, nil
		}
		return 0, nil
	case *array.Float16:
		return float64(a.Value(i).Float32()), nil
	case *array.Decimal128:
		return a.Value(i).ToFloat64(a.DataType().(*arrow.Decimal128Type).Scale), nil
	case *array.Decimal256:
		return a.Value(i).ToFloat64(a.DataType().(*arrow.Decimal256Type).Scale), nil
	}
	return 0, fmt.Errorf("type %s is not numeric", arr.DataType())
}

// timeColumn holds event times as int64. For timestamp columns they are
// nanoseconds since the epoch; for integer columns they are the raw values,
// which order rows but cannot measure durations.
type timeColumn struct {
	ns         []int64
	isDuration bool // values are nanoseconds (a timestamp column)
}

func newTimeColumn(name string, arr arrow.Array) (*timeColumn, error) {
	if arr.NullN() > 0 {
		for i := range arr.Len() {
			if arr.IsNull(i) {
				return nil, &InputError{&NullTimeError{Column: name, Row: int64(i), Nulls: arr.NullN()}}
			}
		}
	}
	switch a := arr.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		mul := int64(unit.Multiplier())
		raw := a.TimestampValues()
		out := make([]int64, len(raw))
		for i, v := range raw {
			out[i] = int64(v) * mul
		}
		return &timeColumn{ns: out, isDuration: true}, nil
	case *array.Date32:
		raw := a.Date32Values()
		out := make([]int64, len(raw))
		for i, v := range raw {
			out[i] = int64(v) * 86400e9
		}
		return &timeColumn{ns: out, isDuration: true}, nil
	case *array.Int64:
		return &timeColumn{ns: slices.Clone(a.Int64Values())}, nil
	case *array.Int32:
		raw := a.Int32Values()
		out := make([]int64, len(raw))
		for i, v := range raw {
			out[i] = int64(v)
		}
		return &timeColumn{ns: out}, nil
	}
	return nil, &InputError{fmt.Errorf("time column %q has type %s; expected a timestamp (or an integer ordering key)", name, arr.DataType())}
}

// partition describes the rows of the input grouped by symbol, each group
// in time order (stable for ties).
type partition struct {
	// order lists row indices symbol by symbol; nil means the identity
	// (rows already grouped by symbol and sorted by time).
	order []int32
	// bounds[g]..bounds[g+1] is group g's range in order (or in rows).
	bounds []int
	// names[g] is group g's symbol, for error messages.
	names []string
}

func (p *partition) groups() int { return len(p.bounds) - 1 }

// rows returns group g's row indices, or nil and the contiguous range when
// the order is the identity.
func (p *partition) rows(g int) (idx []int32, lo, hi int) {
	lo, hi = p.bounds[g], p.bounds[g+1]
	if p.order == nil {
		return nil, lo, hi
	}
	return p.order[lo:hi], lo, hi
}

// symbolKeys assigns a dense group id to every row by symbol, in order of
// first appearance, reading the column's chunks in turn (no copy).
func symbolKeys(chunks []arrow.Array) (ids []int32, names []string) {
	n := 0
	for _, arr := range chunks {
		n += arr.Len()
	}
	ids = make([]int32, n)
	seen := map[string]int32{}
	lookup := func(s string) int32 {
		id, ok := seen[s]
		if !ok {
			id = int32(len(names))
			seen[s] = id
			names = append(names, s)
		}
		return id
	}
	at := 0
	for _, arr := range chunks {
		symbolKeysOf(arr, ids[at:at+arr.Len()], lookup)
		at += arr.Len()
	}
	return ids, names
}

// symbolKeysOf fills ids with the group ids of arr's rows.
func symbolKeysOf(arr arrow.Array, ids []int32, lookup func(string) int32) {
	switch a := arr.(type) {
	case *array.String:
		// Feeds repeat a symbol in runs; remembering the last one skips most
		// map lookups.
		last, lastID := "", int32(-1)
		for i := range ids {
			s := a.Value(i)
			if a.IsNull(i) {
				s = ""
			}
			if lastID < 0 || s != last {
				last, lastID = s, lookup(s)
			}
			ids[i] = lastID
		}
	case *array.Dictionary:
		dictIDs := map[int]int32{}
		for i := range ids {
			if a.IsNull(i) {
				ids[i] = lookup("")
				continue
			}
			k := a.GetValueIndex(i)
			id, ok := dictIDs[k]
			if !ok {
				id = lookup(a.Dictionary().ValueStr(k))
				dictIDs[k] = id
			}
			ids[i] = id
		}
	default:
		for i := range ids {
			s := ""
			if arr.IsValid(i) {
				s = arr.ValueStr(i)
			}
			ids[i] = lookup(s)
		}
	}
}

// partitionRows groups rows by symbol id (ids nil: one group) and sorts
// each group by time, stably, so that ties keep their input order.
func partitionRows(ids []int32, names []string, times []int64, n int) *partition {
	if n == 0 {
		return &partition{bounds: []int{0}}
	}
	if ids == nil {
		p := &partition{bounds: []int{0, n}, names: []string{""}}
		if !slices.IsSorted(times) {
			p.order = make([]int32, n)
			for i := range p.order {
				p.order[i] = int32(i)
			}
			sortByTime(p.order, times)
		}
		return p
	}
	groups := len(names)
	counts := make([]int, groups+1)
	contiguous := true
	for i, id := range ids {
		counts[id+1]++
		if i > 0 && id < ids[i-1] {
			contiguous = false
		}
	}
	bounds := counts
	for g := 1; g <= groups; g++ {
		bounds[g] += bounds[g-1]
	}
	p := &partition{bounds: bounds, names: names}
	// ids are assigned in order of first appearance, so rows are grouped
	// exactly when ids never decrease.
	if contiguous {
		sorted := true
		for g := range groups {
			if !slices.IsSorted(times[bounds[g]:bounds[g+1]]) {
				sorted = false
				break
			}
		}
		if sorted {
			return p
		}
	}
	// A counting sort by group keeps input order within each group.
	p.order = make([]int32, n)
	next := slices.Clone(bounds[:groups])
	for i, id := range ids {
		p.order[next[id]] = int32(i)
		next[id]++
	}
	for g := range groups {
		sortByTime(p.order[bounds[g]:bounds[g+1]], times)
	}
	return p
}

// sortByTime stably sorts row indices by their time, skipping the work when
// they already are in order (the common case for exchange feeds).
func sortByTime(idx []int32, times []int64) {
	sorted := true
	for j := 1; j < len(idx); j++ {
		if times[idx[j]] < times[idx[j-1]] {
			sorted = false
			break
		}
	}
	if sorted {
		return
	}
	slices.SortStableFunc(idx, func(a, b int32) int {
		ta, tb := times[a], times[b]
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
}
