package batch

import (
	"fmt"
	"strings"
	"time"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// Summary is what a run did, whether it committed or not. Timing's read,
// compute and write are summed over shards (they overlap when shards run
// concurrently, so they can exceed the wall time); commit and wall are the
// run's own.
type Summary struct {
	Run        string           `json:"run"`
	Source     string           `json:"source"`
	Start      time.Time        `json:"start"`
	End        time.Time        `json:"end"`
	Lookback   string           `json:"lookback"`
	Shards     []ShardSummary   `json:"shards"`
	Features   []FeatureSummary `json:"features"`
	Totals     Totals           `json:"totals"`
	Timing     Timing           `json:"timing"`
	Committed  bool             `json:"committed"`
	SnapshotID int64            `json:"snapshot_id,omitempty"`
	Files      int              `json:"files"`
	// Warnings say what is probably a mistake though nothing failed: a
	// symbol or a range with no source rows.
	Warnings []string `json:"warnings"`
}

// Shard statuses of ShardSummary.
const (
	ShardOK    = "ok"
	ShardError = "error"
)

// ShardSummary is one shard's line of the summary.
type ShardSummary struct {
	Index          int       `json:"index"`
	Symbol         string    `json:"symbol"`
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	Status         string    `json:"status"` // ShardOK or ShardError
	Error          string    `json:"error,omitempty"`
	RowsIn         int64     `json:"rows_in"`
	WarmupRows     int64     `json:"warmup_rows"`
	RowsOut        int64     `json:"rows_out"`
	FeaturesOK     int       `json:"features_ok"`
	FeaturesFailed int       `json:"features_failed"`
	Retries        int       `json:"retries"`
	Seconds        float64   `json:"seconds"`
	Timing         Timing    `json:"timing"`
}

// FeatureSummary is one feature's outcome over the run: failed when it
// failed to compile or on any shard (the first error is kept).
type FeatureSummary struct {
	Name         string `json:"name"`
	Status       string `json:"status"` // compute.StatusSuccess or StatusError
	Error        string `json:"error,omitempty"`
	ShardsFailed int    `json:"shards_failed"`
}

// Totals add up the shards.
type Totals struct {
	Shards         int   `json:"shards"`
	ShardsOK       int   `json:"shards_ok"`
	ShardsFailed   int   `json:"shards_failed"`
	Retries        int   `json:"retries"`
	RowsIn         int64 `json:"rows_in"`
	WarmupRows     int64 `json:"warmup_rows"`
	RowsOut        int64 `json:"rows_out"` // committed when Committed, else staged
	FeaturesOK     int   `json:"features_ok"`
	FeaturesFailed int   `json:"features_failed"`
}

func shardSummary(cfg ShardConfig, res ShardResult, retries int, took time.Duration, err error) ShardSummary {
	s := ShardSummary{Index: cfg.Index, Symbol: cfg.Symbol, Start: cfg.Start, End: cfg.End, Status: ShardOK,
		RowsIn: res.RowsIn, WarmupRows: res.WarmupRows, RowsOut: res.RowsOut, Retries: retries,
		Seconds: took.Seconds(), Timing: res.Timing}
	if err != nil {
		s.Status, s.Error = ShardError, err.Error()
		return s
	}
	for _, f := range res.Features {
		if f.Status == compute.StatusSuccess {
			s.FeaturesOK++
		} else {
			s.FeaturesFailed++
		}
	}
	return s
}

// finish fills the totals, the features and the warnings from the shards.
func (sum *Summary) finish(plan *ir.Plan, results []ShardResult, errs []error) {
	t := &sum.Totals
	t.Shards = len(sum.Shards)
	sum.Features = make([]FeatureSummary, len(plan.Features))
	for i, st := range planStatuses(plan) {
		sum.Features[i] = FeatureSummary{Name: st.Name, Status: st.Status, Error: st.Error}
	}
	for i, s := range sum.Shards {
		t.Retries += s.Retries
		t.RowsIn += s.RowsIn
		t.WarmupRows += s.WarmupRows
		t.RowsOut += s.RowsOut
		sum.Timing.add(s.Timing)
		if errs[i] != nil {
			t.ShardsFailed++
			continue
		}
		t.ShardsOK++
		for fi, st := range results[i].Features {
			if fi >= len(sum.Features) || st.Status == compute.StatusSuccess {
				continue
			}
			f := &sum.Features[fi]
			if plan.Features[fi].Err != nil {
				continue // failed to compile, not on this shard's data
			}
			f.ShardsFailed++
			if f.Status == compute.StatusSuccess {
				f.Status, f.Error = st.Status, st.Error
			}
		}
	}
	for _, f := range sum.Features {
		if f.Status == compute.StatusSuccess {
			t.FeaturesOK++
		} else {
			t.FeaturesFailed++
		}
	}
	sum.Warnings = append(sum.Warnings, emptyWarnings(sum.Source, sum.Shards)...)
}

// emptyWarnings names the symbols without a single source row in the run
// and, for the others, the shards without one (probably a wrong symbol or
// range, or data not ingested yet, not a success to stay silent about).
func emptyWarnings(source string, shards []ShardSummary) []string {
	type symRows struct {
		rows        int64
		empty, seen []ShardSummary
	}
	var order []string
	by := map[string]*symRows{}
	for _, s := range shards {
		if s.Status != ShardOK {
			continue
		}
		r := by[s.Symbol]
		if r == nil {
			r = &symRows{}
			by[s.Symbol] = r
			order = append(order, s.Symbol)
		}
		r.rows += s.RowsIn
		r.seen = append(r.seen, s)
		if s.RowsIn == 0 {
			r.empty = append(r.empty, s)
		}
	}
	var out []string
	for _, sym := range order {
		r := by[sym]
		switch {
		case r.rows == 0:
			first, last := r.seen[0], r.seen[len(r.seen)-1]
			out = append(out, fmt.Sprintf("symbol %s has no rows in %s in [%s, %s)", sym, source, stamp(first.Start), stamp(last.End)))
		case len(r.empty) > 0:
			var ranges []string
			for i, s := range r.empty {
				if i == 5 {
					ranges = append(ranges, fmt.Sprintf("and %d more", len(r.empty)-5))
					break
				}
				ranges = append(ranges, fmt.Sprintf("[%s, %s)", stamp(s.Start), stamp(s.End)))
			}
			out = append(out, fmt.Sprintf("symbol %s has no rows in %s in %d of its %d shards: %s", sym, source, len(r.empty), len(r.seen), strings.Join(ranges, ", ")))
		}
	}
	return out
}

// stamp formats a time as a date when it is a UTC midnight.
func stamp(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339Nano)
}
