package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs fdag with args and returns the exit status, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProjectTypoCreatesNothing: every command taking --project refuses a
// directory that does not exist, once, with exit status 2, and leaves
// nothing behind (opening the embedded catalog used to create
// TYPO/.fdag on the way to failing; explain and compute ignored the
// typo). Each command gets arguments valid up to the project.
func TestProjectTypoCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	input := writeFile(t, filepath.Join(dir, "in.csv"), "event_time,symbol,trade_price\n2024-01-02T00:00:00Z,A,1\n")
	shard := writeFile(t, filepath.Join(dir, "shard.json"),
		`{"run":"7797714db36a219e","symbol":"A","start":"2024-01-02T00:00:00Z","end":"2024-01-03T00:00:00Z","features":[{"name":"a","formula":"log(close)"}]}`)
	commit := writeFile(t, filepath.Join(dir, "commit.json"),
		`{"plan":{"run":"7797714db36a219e","shards":[{"run":"7797714db36a219e","symbol":"A","features":[{"name":"a","formula":"log(close)"}]}]},"outcomes":[]}`)
	window := []string{"--symbols", "A", "--start", "2024-01-02", "--end", "2024-01-03"}
	cases := map[string][]string{
		"compute": {"--input", input, "--feature", "a=log(close)", "--output", filepath.Join(dir, "out.csv")},
		"explain": {"log(close)"},
		"ingest":  {input},
		"run":     append([]string{"--feature", "a=log(close)"}, window...),
		"plan":    append([]string{"--feature", "a=log(close)"}, window...),
		"shard":   {"--config", shard},
		"lease":   {"--run", "7797714db36a219e"},
		"commit":  {commit},
		"bars":    append([]string{"--kinds", "tick:5"}, window...),
		"labels":  append([]string{"--methods", "fixed_horizon:h=1"}, window...),
		"read":    {"--list"},
		"gc":      {},
		"compact": {"--table", "ft_features"},
	}
	for _, c := range commands {
		args, ok := cases[c.name]
		if !ok {
			if c.name != "demo-data" { // demo-data --project creates a project
				t.Errorf("command %s: no case (add one)", c.name)
			}
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			typo := filepath.Join(dir, "projcet-"+c.name)
			code, _, stderr := runCLI(t, append([]string{c.name, "--project", typo}, args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			want := "--project " + typo + ": no such project directory"
			if n := strings.Count(stderr, want); n != 1 {
				t.Errorf("stderr has %q %d times, want once:\n%s", want, n, stderr)
			}
			if _, err := os.Stat(typo); !os.IsNotExist(err) {
				t.Errorf("%s was created (%v)", typo, err)
			}
		})
	}
}

// TestErrorsPrintedOnce: a bad flag is reported once (the flag package
// printed it, then the usage, then run printed it again), and a request
// whose every feature fails lists each error once.
func TestErrorsPrintedOnce(t *testing.T) {
	code, _, stderr := runCLI(t, "compute", "--bogus")
	if code != exitUsage || strings.Count(stderr, "flag provided but not defined: -bogus") != 1 {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "fdag compute --help lists the flags") || strings.Contains(stderr, "examples:") {
		t.Errorf("a flag error should point to --help, not print the usage:\n%s", stderr)
	}
	code, _, stderr = runCLI(t, "compute", "--help")
	if code != 0 || !strings.Contains(stderr, "examples:") || !strings.Contains(stderr, "-input FILE") {
		t.Errorf("--help: exit %d, stderr:\n%s", code, stderr)
	}

	dir := t.TempDir()
	input := writeFile(t, filepath.Join(dir, "in.csv"), "event_time,symbol,trade_price\n2024-01-02T00:00:00Z,A,1\n")
	code, _, stderr = runCLI(t, "compute", "--project", dir, "--input", input, "--feature", "a=lgo(close)", "--output", filepath.Join(dir, "o.csv"))
	if code != exitFailure || strings.Count(stderr, `unknown function "lgo"`) != 1 {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// TestExplainChecksTheInputColumns: with --input (only the header or
// schema is read) or --columns, a mistyped column is an error with a caret
// and a suggestion; without them it is taken as a column, as before.
func TestExplainChecksTheInputColumns(t *testing.T) {
	dir := t.TempDir()
	input := writeFile(t, filepath.Join(dir, "in.csv"), "event_time,symbol,trade_price\n2024-01-02T00:00:00Z,A,1\n")
	want := "f1: 1:14: unknown identifier \"clsoe\": not a feature of this request, an input column or an alias; did you mean \"close\"?\n" +
		"       | rolling_mean(clsoe, 2)\n       |              ^"
	for _, flags := range [][]string{{"--input", input}, {"--columns", "event_time,symbol,trade_price"}} {
		code, stdout, stderr := runCLI(t, append(append([]string{"explain", "--project", dir}, flags...), "rolling_mean(clsoe, 2)", "ok=log(close)")...)
		if code != 0 || !strings.Contains(stdout, want) || !strings.Contains(stderr, `unknown identifier "clsoe"`) {
			t.Errorf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", flags, code, stdout, stderr)
		}
	}
	code, stdout, _ := runCLI(t, "explain", "--project", dir, "rolling_mean(clsoe, 2)")
	if code != 0 || !strings.Contains(stdout, "n0 = clsoe") {
		t.Errorf("without columns: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := runCLI(t, "explain", "--input", input, "--columns", "a", "log(a)"); code != exitUsage {
		t.Errorf("--input and --columns: exit %d, %s", code, stderr)
	}
}

// TestMissingSourceLeavesTheWarehouse: a command whose source does not
// exist fails before it changes the project (fdag bars created its bar
// tables, fdag ingest the embedded catalog, before finding out), and the
// error says where the source comes from.
func TestMissingSourceLeavesTheWarehouse(t *testing.T) {
	window := []string{"--symbols", "A", "--start", "2024-01-02", "--end", "2024-01-03"}
	cases := []struct {
		name string
		args []string
		hint string
	}{
		{"bars over no trades", append([]string{"bars", "--kinds", "tick:5"}, window...), "ingest trades first"},
		{"labels over no bars", append([]string{"labels", "--source", "cdm_bars_tick_5", "--methods", "fixed_horizon:h=1"}, window...), "fdag bars"},
		{"run over no bars", append([]string{"run", "--source", "cdm_bars_tick_5", "--feature", "a=log(close)"}, window...), "fdag bars"},
		{"ingest of no file", []string{"ingest", "no-such-trades.csv"}, "no-such-trades.csv"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{c.args[0], "--project", dir}, c.args[1:]...)
			code, _, stderr := runCLI(t, args...)
			if code == 0 || !strings.Contains(stderr, c.hint) {
				t.Errorf("exit %d, stderr %q: want a failure saying %q", code, stderr, c.hint)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) == 0 {
				return // not even the catalog was created
			}
			code, out, stderr := runCLI(t, "read", "--project", dir, "--list")
			if code != 0 || strings.TrimSpace(out) != "" {
				t.Errorf("tables after the failure (exit %d, %s):\n%s", code, stderr, out)
			}
		})
	}
}
