package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/internal/tableio"
)

const readExamples = `  fdag read --project . --table cdm_trade_enriched --symbols BTCUSDT --start 2024-01-02 --end 2024-01-03 --output btc.parquet
  fdag read --table ft_features --where feature_name=ret_1 --output ret_1.csv
  fdag read --list
`

// runRead exports the rows of a warehouse table matching a filter to a
// Parquet or CSV file, or lists the tables.
func runRead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("read", "--table T [--symbols A,B] [--start T] [--end T] [--where COL=V...] --output FILE | --list",
		readExamples, stderr)
	var (
		project   = fs.String("project", ".", "project `DIR`")
		tableName = fs.String("table", "", "warehouse `table`")
		output    = fs.String("output", "", "output `FILE`.parquet|.csv")
		list      = fs.Bool("list", false, "list the tables with their schemas and row counts")
		failEmpty = fs.Bool("fail-empty", false, "fail (exit 1, no output file) when the filter matches no rows, or none for a --symbols symbol; without it such a read warns")
	)
	filter := addQueryFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	mem := memory.DefaultAllocator
	w, err := openProject(ctx, *project, catalog.Options{Mem: mem})
	if err != nil {
		return err
	}
	defer w.Close()
	if *list {
		tables, err := w.ListTables(ctx)
		if err != nil {
			return err
		}
		for _, t := range tables {
			fmt.Fprintf(stdout, "%s\t%d rows\tpartitioned by %s\n", t.Name, t.Rows, t.Partitioning)
			for _, f := range t.Schema.Fields() {
				fmt.Fprintf(stdout, "\t%s\t%s\n", f.Name, f.Type)
			}
		}
		return nil
	}
	switch {
	case *tableName == "":
		return usagef("--table is required")
	case *output == "":
		return usagef("--output is required")
	}
	if _, err := tableio.FormatOf(*output); err != nil {
		return usageError{err.Error()}
	}
	q, err := filter.query()
	if err != nil {
		return err
	}
	if err := checkWhere(ctx, w, *tableName, q.Equal); err != nil {
		return err
	}
	began := time.Now()
	tbl, err := w.ReadTable(ctx, *tableName, q)
	if err != nil {
		return err
	}
	defer tbl.Release()
	if msg := emptyRead(*tableName, tbl, q); msg != "" {
		if *failEmpty {
			return fmt.Errorf("%s", msg)
		}
		fmt.Fprintf(stderr, "fdag read: warning: %s\n", msg)
	}
	if err := tableio.Write(ctx, *output, tbl, tableio.WriteOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "fdag read: %s of %s -> %s (%v)\n", count(tbl.NumRows(), "row"), *tableName, *output, time.Since(began).Round(time.Millisecond))
	return nil
}

// emptyRead says what a read that is probably a mistake matched: nothing,
// or nothing for some of the symbols asked; "" when every part matched.
func emptyRead(table string, tbl arrow.Table, q catalog.TableQuery) string {
	if tbl.NumRows() == 0 {
		return fmt.Sprintf("%s: no rows match %s", table, describeQuery(q))
	}
	if len(q.Symbols) == 0 {
		return ""
	}
	idx := tbl.Schema().FieldIndices(catalog.ColSymbol)
	if len(idx) == 0 {
		return ""
	}
	seen := map[string]bool{}
	for _, c := range tbl.Column(idx[0]).Data().Chunks() {
		if s, ok := c.(*array.String); ok {
			for i := 0; i < s.Len(); i++ {
				seen[s.Value(i)] = true
			}
		}
	}
	var lost []string
	for _, s := range q.Symbols {
		if !seen[s] {
			lost = append(lost, s)
		}
	}
	if len(lost) == 0 {
		return ""
	}
	noun := "symbol"
	if len(lost) > 1 {
		noun = "symbols"
	}
	return fmt.Sprintf("%s: no rows for %s %s (%s)", table, noun, strings.Join(lost, ", "), describeQuery(q))
}

func describeQuery(q catalog.TableQuery) string {
	var parts []string
	if len(q.Symbols) > 0 {
		parts = append(parts, "--symbols "+strings.Join(q.Symbols, ","))
	}
	if !q.Start.IsZero() {
		parts = append(parts, "--start "+q.Start.Format(time.RFC3339))
	}
	if !q.End.IsZero() {
		parts = append(parts, "--end "+q.End.Format(time.RFC3339))
	}
	keys := make([]string, 0, len(q.Equal))
	for k := range q.Equal {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range q.Equal[k] {
			parts = append(parts, fmt.Sprintf("--where %s=%s", k, v))
		}
	}
	if len(parts) == 0 {
		return "no filter (the table is empty)"
	}
	return strings.Join(parts, " ")
}

// checkWhere refuses --where on a column the table lacks or that is not a
// string (the filter compares strings; on a number or time it would
// match nothing or fail inside the scan).
func checkWhere(ctx context.Context, w *catalog.Warehouse, table string, eq map[string][]string) error {
	if len(eq) == 0 {
		return nil
	}
	t, err := w.LoadTable(ctx, table)
	if err != nil {
		return err
	}
	sc := t.Schema()
	for col := range eq {
		f, ok := sc.FindFieldByName(col)
		if !ok {
			var names []string
			for _, f := range sc.Fields() {
				names = append(names, f.Name)
			}
			return usagef("--where %s: table %s has no column %q (columns: %s)", col, table, col, strings.Join(names, ", "))
		}
		if f.Type.String() != "string" {
			return usagef("--where %s: column %s is %s; --where filters string columns (use --symbols, --start and --end for symbol and time)", col, col, f.Type)
		}
	}
	return nil
}
