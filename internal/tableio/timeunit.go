package tableio

import (
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Integer times read with a time unit are checked against the years a
// nanosecond timestamp can hold (1678-2262, what the engine computes in):
// epoch milliseconds read as seconds land in the year 57443, and used to be
// accepted, giving every duration window a thousand times its width.

// timeUnits are the units of --time-unit, coarsest first, with the
// nanoseconds of one unit.
var timeUnits = []struct {
	name string
	ns   int64
}{{"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}}

func unitName(u arrow.TimeUnit) string {
	switch u {
	case arrow.Second:
		return "s"
	case arrow.Millisecond:
		return "ms"
	case arrow.Nanosecond:
		return "ns"
	}
	return "us"
}

// checkUnitRange refuses integer times (the values of chunks, int64 or
// timestamps over int64) that, read in unit ("" is us), fall outside the
// years 1678-2262; the error gives the range they would span and the
// unit that gives a plausible one (1990-2100), if any.
func checkUnitRange(column, unit string, chunks []arrow.Array) error {
	if unit == "" {
		unit = "us"
	}
	lo, hi, ok := int64(math.MaxInt64), int64(math.MinInt64), false
	for _, c := range chunks {
		var vals []int64
		switch a := c.(type) {
		case *array.Int64:
			vals = a.Int64Values()
		case *array.Timestamp:
			vals = arrow.Int64Traits.CastFromBytes(arrow.TimestampTraits.CastToBytes(a.TimestampValues()))
		default:
			return nil
		}
		for i, v := range vals {
			if c.IsNull(i) {
				continue
			}
			lo, hi, ok = min(lo, v), max(hi, v), true
		}
	}
	if !ok {
		return nil
	}
	per := unitNanos(unit)
	minNs, maxNs := time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	if inRange(lo, hi, per, minNs, maxNs) {
		return nil
	}
	msg := fmt.Sprintf("time column %q read with time unit %s spans %s to %s, outside the years 1678-2262 a timestamp holds",
		column, unit, spanEnd(lo, per), spanEnd(hi, per))
	plausLo, plausHi := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, u := range timeUnits {
		if u.name != unit && inRange(lo, hi, u.ns, plausLo, plausHi) {
			return fmt.Errorf("%s; the values look like %s: --time-unit %s gives %s to %s", msg, unitWord(u.name), u.name,
				time.Unix(0, lo*u.ns).UTC().Format(time.RFC3339Nano), time.Unix(0, hi*u.ns).UTC().Format(time.RFC3339Nano))
		}
	}
	return fmt.Errorf("%s; check --time-unit (s, ms, us or ns)", msg)
}

func unitNanos(unit string) int64 {
	for _, u := range timeUnits {
		if u.name == unit {
			return u.ns
		}
	}
	return 1e3
}

func unitWord(unit string) string {
	return map[string]string{"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}[unit]
}

// inRange reports whether [lo, hi] times per nanoseconds lies within
// [minNs, maxNs], without overflowing.
func inRange(lo, hi, per, minNs, maxNs int64) bool {
	return lo >= minNs/per && hi <= maxNs/per
}

// spanEnd renders v units of per nanoseconds as a date, also beyond what
// time.Time formats in four digits (year 57443).
func spanEnd(v, per int64) string {
	sec := v / (1e9 / per) // per divides a second
	days := sec / 86400
	if sec%86400 < 0 {
		days--
	}
	y, m, d := civilFromDays(days)
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
}
