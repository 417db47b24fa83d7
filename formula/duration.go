package formula

import (
	"fmt"
	"math"
	"strings"
)

// durationUnits are Polars' fixed-length units, longest first: the order
// FormatDuration writes them in.
var durationUnits = []struct {
	name string
	ns   int64
}{
	{"w", 7 * 24 * 3600e9},
	{"d", 24 * 3600e9},
	{"h", 3600e9},
	{"m", 60e9},
	{"s", 1e9},
	{"ms", 1e6},
	{"us", 1e3},
	{"ns", 1},
}

// calendarUnits have no fixed length (a month, a year, a quarter) or count
// rows rather than time (Polars' "i"), so they cannot size a time window.
var calendarUnits = map[string]string{
	"mo": "a month", "y": "a year", "q": "a quarter", "i": "an index count",
}

const unitList = "ns, us, ms, s, m, h, d, w"

// ParseDuration parses a Polars-style duration: one or more integer+unit
// pairs such as "5m", "500ms", "1h30m" or "2d", with units ns, us (or µs),
// ms, s, m, h, d and w. It returns nanoseconds, which must be positive and
// fit in an int64. Calendar units (mo, y, q) and index counts (i) are
// rejected because a time window needs a fixed length.
func ParseDuration(s string) (int64, error) {
	bad := func(format string, args ...any) (int64, error) {
		return 0, fmt.Errorf("invalid duration %q: %s", s, fmt.Sprintf(format, args...))
	}
	if s == "" {
		return bad("empty")
	}
	if s[0] == '-' {
		return bad("must be positive")
	}
	var total int64
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && isDigit(rest[i]) {
			i++
		}
		if i == 0 {
			if rest[0] == '.' || rest[0] == '+' || rest[0] == ' ' {
				return bad("expected an integer followed by a unit (e.g. 5m, 1h30m)")
			}
			return bad("expected a number before %q", rest)
		}
		digits := rest[:i]
		rest = rest[i:]
		j := 0
		for j < len(rest) && !isDigit(rest[j]) {
			j++
		}
		unit := rest[:j]
		rest = rest[j:]
		if unit == "" {
			return bad("missing unit after %s (one of %s)", digits, unitList)
		}
		if unit == "µs" || unit == "μs" {
			unit = "us"
		}
		var mult int64
		for _, u := range durationUnits {
			if u.name == unit {
				mult = u.ns
			}
		}
		if mult == 0 {
			if what, ok := calendarUnits[unit]; ok {
				return bad("calendar unit %q (%s) has no fixed length; use one of %s", unit, what, unitList)
			}
			if strings.HasPrefix(unit, ".") {
				return bad("use whole numbers of a smaller unit (e.g. 1m30s, not 1.5m)")
			}
			return bad("unknown unit %q (expected one of %s)", unit, unitList)
		}
		var n int64
		for _, c := range digits {
			d := int64(c - '0')
			if n > (math.MaxInt64-d)/10 {
				return bad("too long (the limit is about 292 years)")
			}
			n = n*10 + d
		}
		if n > math.MaxInt64/mult || total > math.MaxInt64-n*mult {
			return bad("too long (the limit is about 292 years)")
		}
		total += n * mult
	}
	if total == 0 {
		return bad("must be positive")
	}
	return total, nil
}

// FormatDuration writes nanoseconds in the canonical compact form that
// ParseDuration reads back: largest units first, zero parts left out
// ("1h30m", "500ms", "1w2d"). Zero is "0s"; a negative value gets a
// leading "-" (which ParseDuration rejects).
func FormatDuration(ns int64) string {
	if ns == 0 {
		return "0s"
	}
	var b strings.Builder
	u := uint64(ns)
	if ns < 0 {
		b.WriteByte('-')
		u = uint64(-(ns + 1)) + 1 // no overflow at math.MinInt64
	}
	for _, unit := range durationUnits {
		if n := u / uint64(unit.ns); n > 0 {
			fmt.Fprintf(&b, "%d%s", n, unit.name)
			u %= uint64(unit.ns)
		}
	}
	return b.String()
}
