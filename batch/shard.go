package batch

import (
	"fmt"
	"math"
	"time"
)

// DefaultShard is the time span of one shard: a UTC day, the partition
// unit of the source table.
const DefaultShard = 24 * time.Hour

// Shard is one unit of work: one symbol over [Start, End).
type Shard struct {
	Symbol     string
	Start, End time.Time
}

func (s Shard) String() string {
	return fmt.Sprintf("%s [%s, %s)", s.Symbol, s.Start.UTC().Format(time.RFC3339Nano), s.End.UTC().Format(time.RFC3339Nano))
}

// Split cuts [start, end) for each symbol into shards at the multiples of
// every since the Unix epoch (UTC midnights for a day), so that shards line
// up with the day partitions and the same range always gives the same
// shards. Order: symbols as given, then time.
func Split(symbols []string, start, end time.Time, every time.Duration) ([]Shard, error) {
	if every <= 0 {
		return nil, fmt.Errorf("shard length %s is not positive", every)
	}
	if !end.After(start) {
		return nil, fmt.Errorf("end %s is not after start %s", end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
	}
	if n := end.Sub(start) / every; n > 100_000 {
		return nil, fmt.Errorf("[%s, %s) in shards of %s makes %d shards per symbol; use longer shards", start.Format(time.RFC3339), end.Format(time.RFC3339), every, n)
	}
	var out []Shard
	for _, sym := range symbols {
		for lo := start; lo.Before(end); {
			hi := time.Unix(0, (lo.UnixNano()/int64(every)+1)*int64(every)).UTC()
			if lo.UnixNano() < 0 && lo.UnixNano()%int64(every) != 0 {
				hi = hi.Add(-every) // integer division rounds towards zero before the epoch
			}
			if hi.After(end) {
				hi = end
			}
			out = append(out, Shard{Symbol: sym, Start: lo, End: hi})
			lo = hi
		}
	}
	return out, nil
}

// ParseTime reads a request's time: RFC 3339 (2024-01-02T09:30:00Z,
// with fractions and offsets), the same without a zone (taken as UTC), or a
// date (2024-01-02, midnight UTC).
func ParseTime(s string) (time.Time, error) {
	minTime, maxTime := time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			// Times are nanoseconds since 1970 in int64 from here on
			// (and year 1 is Go's zero time, read as "not given").
			if t.Before(minTime) || t.After(maxTime) {
				return time.Time{}, fmt.Errorf("time %q is outside the range fdag computes in (1678-01-01 to 2262-04-11, nanoseconds since 1970 in 64 bits)", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want ISO 8601 such as 2024-01-02T09:30:00Z or 2024-01-02", s)
}
