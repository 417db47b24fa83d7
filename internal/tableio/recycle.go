package tableio

import (
	"math/bits"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// recycleMin is the smallest buffer a recycler keeps: smaller ones are
// cheap to allocate and would crowd its free list.
const recycleMin = 64 << 10

// recycleLimit bounds the free buffers a write's recycler keeps: a few
// 64K-row groups of a wide table.
const recycleLimit = 256 << 20

// recycler is the allocator of one Parquet write. The writer allocates the
// same buffers for every row group (page buffers, each column chunk's
// in-memory sink, grown by doubling) and frees them when the group is
// written; from the Go heap each is fresh, zeroed memory, and growing one
// copies it, which was 15% of `fdag compute`'s CPU with 64K-row groups,
// most of it zeroing and page faults (bench/README.md). The recycler hands
// freed buffers out again (the smallest that fits), and does not clear them: the writer's encoders write every byte
// they read back (tested by writing with recycled memory poisoned and
// comparing the file's bytes). Buffers under recycleMin come from the Go
// heap. A recycler holds at most limit bytes of free buffers; one write's
// recycler is dropped with the writer.
type recycler struct {
	mu     sync.Mutex
	free   [][]byte // by capacity, ascending
	held   int      // capacity in free
	reused int      // buffers handed out again
	limit  int
	poison byte // tests: fill handed-out recycled bytes with it (0: don't)
}

func newRecycler(limit int) *recycler { return &recycler{limit: limit} }

// NewRecycler is the allocator for the Parquet internals of one write
// outside this package (catalog's ft_features files): a recycler of at
// most 256 MiB of free buffers, dropped with the write.
func NewRecycler() memory.Allocator { return newRecycler(recycleLimit) }

var goAlloc = memory.NewGoAllocator()

func (r *recycler) Allocate(size int) []byte {
	if size < recycleMin {
		return goAlloc.Allocate(size)
	}
	r.mu.Lock()
	i, _ := slices.BinarySearchFunc(r.free, size, func(b []byte, n int) int { return cap(b) - n })
	if i < len(r.free) {
		b := r.free[i]
		r.free = slices.Delete(r.free, i, i+1)
		r.held -= cap(b)
		r.reused++
		r.mu.Unlock()
		b = b[:size]
		r.poisonBytes(b)
		return b
	}
	r.mu.Unlock()
	// A power of two, so that a buffer freed by one chunk fits the next
	// chunk's growth; Go's large objects are page-aligned, which satisfies
	// Arrow's 64-byte alignment.
	return make([]byte, size, 1<<bits.Len(uint(size-1)))
}

func (r *recycler) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		old := len(b)
		b = b[:size]
		if size > old {
			r.poisonBytes(b[old:])
		}
		return b
	}
	nb := r.Allocate(size)
	copy(nb, b)
	r.Free(b)
	return nb
}

func (r *recycler) Free(b []byte) {
	if cap(b) < recycleMin {
		return
	}
	b = b[:0]
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held+cap(b) > r.limit {
		return // the Go heap takes it back
	}
	i, _ := slices.BinarySearchFunc(r.free, cap(b), func(x []byte, n int) int { return cap(x) - n })
	r.free = slices.Insert(r.free, i, b)
	r.held += cap(b)
}

func (r *recycler) poisonBytes(b []byte) {
	if r.poison != 0 {
		for i := range b {
			b[i] = r.poison
		}
	}
}

var _ memory.Allocator = (*recycler)(nil)
