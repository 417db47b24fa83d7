package kernels

import (
	"github.com/featuredag/fdag/fmath"
	"github.com/featuredag/fdag/formula"
)

// Exponential decay kernels: decay_accum and ewm_mean. Both carry a few
// scalars across chunks and are O(1) per row.
//
// Decay factors come from fmath.Exp2/fmath.Exp (crmath.go), correctly rounded, so
// they equal what glibc's pow/exp give Polars (and a Python reference).

// NewDecayAccum returns the kernel for decay_accum(x, h): acc_t = x_t +
// acc_{t-1} * 2^(-1/h) with a half-life of hRows rows, or with a duration
// half-life hDur (nanoseconds) acc_{t-1} * 2^(-dt/h), dt = t_i - t_{i-1} the
// time since the previous row of the symbol (null or not). Exactly one of
// hRows and hDur is positive. The output is null until the first non-null
// x, where acc starts at that value; afterwards a null x adds nothing: the
// output is the decayed accumulator, not null.
func NewDecayAccum(hRows float64, hDur int64) Factory {
	checkHalfLife(hRows, hDur)
	f := 0.0
	if hRows > 0 {
		f = fmath.Exp2(-1 / hRows)
	}
	return func() Op { return &decayOp{f: f, h: float64(hDur)} }
}

func checkHalfLife(hRows float64, hDur int64) {
	if (hRows > 0) == (hDur > 0) || hDur < 0 || hRows < 0 || hRows != hRows {
		panic("kernels: exactly one of hRows and hDur must be positive")
	}
}

type decayOp struct {
	f       float64 // per-row factor (row half-life)
	h       float64 // duration half-life in ns, 0 for rows
	acc     float64
	started bool
	prevT   int64
	hasPrev bool
}

func (d *decayOp) Step(in []Col, t []int64, out []float64, valid []bool) int {
	x := in[0]
	n := len(out)
	xv := x.V[:n]
	valid = valid[:n]
	nulls := 0
	for i := range out {
		f := d.f
		if d.h > 0 {
			ti := t[i]
			f = 1
			if d.hasPrev && ti != d.prevT {
				f = fmath.Exp2(-float64(ti-d.prevT) / d.h)
			}
			d.prevT, d.hasPrev = ti, true
		}
		ok := x.Valid == nil || x.Valid[i]
		switch {
		case ok && d.started:
			d.acc = xv[i] + d.acc*f
		case ok:
			d.acc, d.started = xv[i], true
		case d.started:
			d.acc *= f
		default:
			out[i], valid[i] = 0, false
			nulls++
			continue
		}
		out[i], valid[i] = d.acc, true
	}
	return nulls
}

// NewEwmMean returns the kernel for ewm_mean(x, h), bit for bit as Polars.
//
// Row half-life hRows: Polars ewm_mean(half_life=h, adjust=True,
// min_samples=1, ignore_nulls=False). alpha = 1 - exp(-ln(2)/h) as py-polars
// computes it (in float64, libm exp), then polars-compute's EwmMeanState
// (the incremental form of current Polars, checked against polars 2.1.0):
//
//	first non-null v: mean = v, weight = 1
//	later rows:       weight *= 1 - alpha (null or not: ignore_nulls=False)
//	                  v non-null: mean += (v - mean) * (1 / (weight + 1));
//	                              weight += 1
//	output: mean where v is non-null, else null.
//
// (Older Polars used mean = (w*mean + v)/(w + 1) guarded by mean != v; the
// two differ in the last bits.)
//
// Duration half-life hDur: Polars ewm_mean_by(t, half_life=h) on sorted
// times: null until the first non-null value, which is the first result;
// afterwards for a non-null v: if v != prev, a = 0.5^((t - prevT)/h) (float64
// of the int64 nanosecond difference over the half-life) and result =
// (1 - a)*v + a*prev, else result = v; then prev = result, prevT = t. Null
// values give null and change nothing.
func NewEwmMean(hRows float64, hDur int64) Factory {
	checkHalfLife(hRows, hDur)
	if hDur > 0 {
		return func() Op { return &ewmByOp{h: float64(hDur)} }
	}
	alpha := 1 - fmath.Exp(-fmath.Ln2Hi/hRows) // fmath.Ln2Hi == math.log(2.0)
	return func() Op { return &ewmOp{alpha: alpha} }
}

type ewmOp struct {
	alpha   float64
	mean    float64
	weight  float64
	started bool
}

func (e *ewmOp) Step(in []Col, _ []int64, out []float64, valid []bool) int {
	x := in[0]
	n := len(out)
	xv := x.V[:n]
	valid = valid[:n]
	nulls := 0
	decay := 1 - e.alpha
	for i := range out {
		ok := x.Valid == nil || x.Valid[i]
		if !ok {
			if e.started {
				e.weight *= decay
			}
			out[i], valid[i] = 0, false
			nulls++
			continue
		}
		v := xv[i]
		if !e.started {
			e.mean, e.weight, e.started = v, 1, true
		} else {
			e.weight *= decay
			e.mean += (v - e.mean) * (1 / (e.weight + 1))
			e.weight++
		}
		out[i], valid[i] = e.mean, true
	}
	return nulls
}

type ewmByOp struct {
	h       float64
	prev    float64
	prevT   int64
	started bool
}

func (e *ewmByOp) Step(in []Col, t []int64, out []float64, valid []bool) int {
	x := in[0]
	n := len(out)
	xv := x.V[:n]
	t = t[:n]
	valid = valid[:n]
	nulls := 0
	for i := range out {
		if x.Valid != nil && !x.Valid[i] {
			out[i], valid[i] = 0, false
			nulls++
			continue
		}
		v := xv[i]
		if e.started && v != e.prev {
			a := fmath.Exp2(-(float64(t[i]-e.prevT) / e.h))
			v = (1-a)*v + a*e.prev
		}
		e.prev, e.prevT, e.started = v, t[i], true
		out[i], valid[i] = v, true
	}
	return nulls
}

// RegisterDecay adds decay_accum and ewm_mean.
func RegisterDecay(r *Registry) {
	r.Add("decay_accum", halfLifed(func(p formula.Params) Factory {
		return NewDecayAccum(p.HalfLife.Rows, p.HalfLife.Dur)
	}))
	r.Add("ewm_mean", halfLifed(func(p formula.Params) Factory {
		return NewEwmMean(p.HalfLife.Rows, p.HalfLife.Dur)
	}))
}
