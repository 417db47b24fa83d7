package ir

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/explain")

// explainCases are the plans whose Explain and DOT output is held in
// testdata/explain/NAME.golden and NAME.dot.golden. Run
// `go test ./ir -run Golden -update` after an intended change and review
// the diff.
var explainCases = []struct {
	name  string
	specs []Spec
	opts  Options
}{
	{"cse", inline(
		"ret_1 = log(close) - log(lag(close, 1))",
		"vol_100 = rolling_std(ret_1, 100)",
		"z = (ret_1 - rolling_mean(ret_1, 100)) / rolling_std(ret_1, 100)",
		"mom = diff(log(close), 20)",
	), Options{}},
	{"types", []Spec{
		{Name: "ret_5", Type: "log_return", Inputs: map[string]string{"price": "close"}, Params: map[string]any{"k": 5}},
		{Name: "vwap_5m", Type: "vwap", Inputs: map[string]string{"price": "close", "size": "volume"}},
		{Name: "dv", Type: "decayed_volume", Inputs: map[string]string{"size": "volume"}},
		{Name: "ew", Type: "ewm_price", Inputs: map[string]string{"price": "close"}, Params: map[string]any{"h": 10}},
		{Name: "flow", Formula: "rolling_sum(volume, '5m', min_samples=3) * (24 * 60)"},
	}, Options{SourceColumns: []string{"trade_price", "trade_size"}}},
	{"errors", []Spec{
		{Name: "a", Formula: "b + 1"},
		{Name: "b", Formula: "lag(a)"},
		{Name: "uses_a", Formula: "a * 2"},
		{Name: "typo", Formula: "rolling_mean(close)"},
		{Name: "multi", Formula: "lag(close, -1) +\n  rolling_sum(close, '5x')"},
		{Name: "bad_param", Type: "log_return", Params: map[string]any{"k": 0.5}},
		{Name: "ok", Formula: "close > lag(close)"},
	}, Options{}},
	{"nocse", inline(
		"a = log(close) * 2",
		"b = log(close) + 1",
	), Options{NoCSE: true}},
	{"empty", nil, Options{}},
}

func TestExplainGolden(t *testing.T) {
	for _, c := range explainCases {
		t.Run(c.name, func(t *testing.T) {
			p := Compile(c.specs, c.opts)
			golden(t, filepath.Join("testdata", "explain", c.name+".golden"), p.Explain())
			golden(t, filepath.Join("testdata", "explain", c.name+".dot.golden"), p.DOT())
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
