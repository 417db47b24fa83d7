package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

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
		symbols   = fs.String("symbols", "", "comma-separated `symbols` (default: all)")
		startFlag = fs.String("start", "", "start `time`, inclusive (RFC 3339 or YYYY-MM-DD)")
		endFlag   = fs.String("end", "", "end `time`, exclusive")
		output    = fs.String("output", "", "output `FILE`.parquet|.csv")
		list      = fs.Bool("list", false, "list the tables with their schemas and row counts")
		where     listFlag
	)
	fs.Var(&where, "where", "`COL=VALUE` equality filter on a string column (repeatable; values of one column are OR'ed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	mem := memory.DefaultAllocator
	w, err := catalog.OpenProject(ctx, *project, catalog.Options{Mem: mem})
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
	q := catalog.TableQuery{Equal: map[string][]string{}}
	for _, s := range strings.Split(*symbols, ",") {
		if s = strings.TrimSpace(s); s != "" {
			q.Symbols = append(q.Symbols, s)
		}
	}
	if *startFlag != "" {
		if q.Start, err = parseTime("start", *startFlag); err != nil {
			return err
		}
	}
	if *endFlag != "" {
		if q.End, err = parseTime("end", *endFlag); err != nil {
			return err
		}
	}
	for _, wh := range where {
		col, v, err := splitNameValue("where", wh)
		if err != nil {
			return err
		}
		q.Equal[col] = append(q.Equal[col], v)
	}
	began := time.Now()
	tbl, err := w.ReadTable(ctx, *tableName, q)
	if err != nil {
		return err
	}
	defer tbl.Release()
	if err := tableio.Write(ctx, *output, tbl, tableio.WriteOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "fdag read: %d rows of %s -> %s (%v)\n", tbl.NumRows(), *tableName, *output, time.Since(began).Round(time.Millisecond))
	return nil
}
