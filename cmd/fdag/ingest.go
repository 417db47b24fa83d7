package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/catalog/feed"
	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/internal/tableio"
)

const ingestExamples = `  fdag ingest --table cdm_trade_enriched trades.parquet more.csv
  fdag ingest --project ~/research BTCUSDT-trades-2024-01-01.csv ETHUSDT-trades-2024-01-01.csv
  fdag ingest --symbol XRPETH --format binance dump.csv
  fdag ingest --symbol LTCUSDT --map event_time=timestamp --map trade_price=price \
      --map trade_size=quantity --map trade_id=tradeId --time-unit ms LTCUSDT_2025-06-22_03h_trades.csv

Rows whose (symbol, trade_id) the table already holds are skipped, so ingesting
a file twice adds its trades once; rows without a trade_id are not checked.
  fdag ingest --map event_time=timestamp --map trade_price=price --map trade_size=amount \
      --map trade_id=id --time-unit us tardis_trades.csv
`

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ingest", "[--table T] [--project DIR] [--format auto|binance|table] [--symbol S] FILE...",
		ingestExamples, stderr)
	var (
		tableName = fs.String("table", catalog.TradesTable, "warehouse `table` to append to (fdag's own tables are created on first use)")
		project   = fs.String("project", ".", "project `DIR` holding fdag.yaml and the embedded warehouse")
		format    = fs.String("format", "auto", "`format`: auto (Binance dump CSVs are recognised), binance, or table (Parquet/CSV with the table's column names)")
		symbol    = fs.String("symbol", "", "`symbol` of every row: for Binance dumps (default: from the file name, BTCUSDT-trades-....csv) and table files without a symbol column")
		timeUnit  = fs.String("time-unit", "", "`unit` (s, ms, us, ns) of an integer event_time column in table files")
		maps      listFlag
	)
	fs.Var(&maps, "map", "`TARGET=SOURCE`: read table column TARGET from the file's column SOURCE (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	switch {
	case len(files) == 0:
		return usagef("no input files")
	case *format != "auto" && *format != "binance" && *format != "table":
		return usagef("--format %q: want auto, binance or table", *format)
	}
	rename := map[string]string{}
	for _, m := range maps {
		target, source, err := splitNameValue("map", m)
		if err != nil {
			return err
		}
		rename[source] = target
	}
	// Unreadable inputs fail before the warehouse is opened (opening the
	// embedded catalog creates DIR/.fdag).
	for _, path := range files {
		if _, err := os.Stat(path); err != nil {
			return err
		}
	}
	mem := memory.DefaultAllocator
	w, err := openProject(ctx, *project, catalog.Options{Mem: mem})
	if err != nil {
		return err
	}
	defer w.Close()

	sources := make([]catalog.Source, 0, len(files))
	for _, path := range files {
		src, err := ingestSource(ctx, path, *format, *symbol, *timeUnit, rename, mem)
		if err != nil {
			return err
		}
		sources = append(sources, src)
	}
	st, err := w.Ingest(ctx, *tableName, sources...)
	if err != nil {
		if *symbol == "" && strings.Contains(err.Error(), fmt.Sprintf("column %q is missing", catalog.ColSymbol)) {
			return fmt.Errorf("%w\n  a file of one instrument's trades: name it with --symbol SYMBOL", lineError(err, files))
		}
		return lineError(err, files)
	}
	fmt.Fprintf(stdout, "%s from %s into %s (%s, snapshot %d)\n",
		count(st.Rows, "row"), count(int64(len(files)), "file"), *tableName, count(int64(st.Files), "data file"), st.SnapshotID)
	for _, d := range st.Dropped {
		noun := "column"
		if len(d.Columns) > 1 {
			noun = "columns"
		}
		fmt.Fprintf(stderr, "fdag ingest: warning: %s: %s %s not stored: %s has no such column (--map TARGET=SOURCE renames one)\n",
			d.Source, noun, strings.Join(d.Columns, ", "), *tableName)
	}
	if st.Duplicates > 0 {
		fmt.Fprintf(stdout, "%s skipped: their (symbol, trade_id) was already in %s or earlier in the input\n",
			count(st.Duplicates, "duplicate row"), *tableName)
	}
	if st.WithoutKey > 0 {
		fmt.Fprintf(stderr, "fdag ingest: warning: %s without trade_id, not checked for duplicates (ingesting them again adds them again)\n",
			count(st.WithoutKey, "row"))
	}
	fmt.Fprintf(stderr, "fdag ingest: %.0f rows/s\n", float64(st.Rows)/st.Elapsed.Seconds())
	return nil
}

// ingestSource opens one input file lazily: it is parsed when Ingest
// consumes it, so a huge dump streams through in batches.
func ingestSource(ctx context.Context, path, format, symbol, timeUnit string, rename map[string]string, mem memory.Allocator) (catalog.Source, error) {
	isBinance := format == "binance"
	if format == "auto" && strings.EqualFold(filepath.Ext(path), ".csv") {
		_, _, ok, err := feed.Sniff(path)
		if err != nil {
			return catalog.Source{}, err
		}
		isBinance = ok
	}
	if isBinance {
		return catalog.Source{Name: path, Batches: feed.ReadBinance(ctx, path, symbol, mem, 0)}, nil
	}
	if _, err := tableio.FormatOf(path); err != nil {
		return catalog.Source{}, usagef("%v", err)
	}
	return catalog.Source{Name: path, Batches: func(yield func(arrow.RecordBatch, error) bool) {
		tbl, err := tableio.Read(ctx, path, mem, tableio.ReadOptions{TimeColumn: timeColumnIn(rename), TimeUnit: timeUnit})
		if err != nil {
			yield(nil, err)
			return
		}
		defer tbl.Release()
		renamed, err := renameColumns(tbl, rename)
		if err == nil && symbol != "" {
			var with arrow.Table
			with, err = withSymbol(renamed, symbol, mem)
			renamed.Release()
			renamed = with
		}
		if err != nil {
			yield(nil, fmt.Errorf("%s: %w", path, err))
			return
		}
		defer renamed.Release()
		r := array.NewTableReader(renamed, tableio.DefaultBatchRows)
		defer r.Release()
		for r.Next() {
			if !yield(r.RecordBatch(), nil) {
				return
			}
		}
	}}, nil
}

// timeColumnIn is the file's name of the event_time column.
func timeColumnIn(rename map[string]string) string {
	for src, target := range rename {
		if target == catalog.ColEventTime {
			return src
		}
	}
	return catalog.ColEventTime
}

// renameColumns returns tbl with columns renamed source -> target.
func renameColumns(tbl arrow.Table, rename map[string]string) (arrow.Table, error) {
	if len(rename) == 0 {
		tbl.Retain()
		return tbl, nil
	}
	sc := tbl.Schema()
	fields := make([]arrow.Field, sc.NumFields())
	cols := make([]arrow.Column, sc.NumFields())
	for i, f := range sc.Fields() {
		if t, ok := rename[f.Name]; ok {
			f.Name = t
		}
		fields[i] = f
		cols[i] = *arrow.NewColumn(f, tbl.Column(i).Data())
	}
	for src := range rename {
		if len(sc.FieldIndices(src)) == 0 {
			return nil, fmt.Errorf("--map: no column %q (columns: %s)", src, strings.Join(names(sc), ", "))
		}
	}
	out := array.NewTable(arrow.NewSchema(fields, nil), cols, tbl.NumRows())
	for i := range cols {
		cols[i].Release()
	}
	return out, nil
}

// withSymbol returns tbl with a symbol column holding symbol in every row
// (a file of one instrument's trades, as most exchange exports are). A
// file that has its own symbol column keeps it: --symbol is then refused
// rather than silently overriding or ignoring it.
func withSymbol(tbl arrow.Table, symbol string, mem memory.Allocator) (arrow.Table, error) {
	sc := tbl.Schema()
	if sc.HasField(catalog.ColSymbol) {
		return nil, fmt.Errorf("--symbol %s: the file has a %q column already (leave out --symbol, or --map it to another name)", symbol, catalog.ColSymbol)
	}
	b := array.NewStringBuilder(mem)
	defer b.Release()
	n := int(tbl.NumRows())
	b.Reserve(n)
	b.ReserveData(n * len(symbol))
	for range n {
		b.Append(symbol)
	}
	col := b.NewArray()
	defer col.Release()
	field := arrow.Field{Name: catalog.ColSymbol, Type: arrow.BinaryTypes.String, Nullable: true}
	chunked := arrow.NewChunked(field.Type, []arrow.Array{col})
	defer chunked.Release()
	c := arrow.NewColumn(field, chunked)
	defer c.Release()
	out, err := tbl.AddColumn(0, field, *c)
	if err != nil {
		return nil, fmt.Errorf("--symbol: %w", err)
	}
	return out, nil
}

func names(sc *arrow.Schema) []string {
	var out []string
	for _, f := range sc.Fields() {
		out = append(out, f.Name)
	}
	return out
}

// lineError turns a bad value's row into its CSV line (header on line 1)
// or Parquet row, so the message names file, line and column.
func lineError(err error, files []string) error {
	var se *catalog.SourceError
	var re *catalog.RowError
	if !errors.As(err, &se) || !errors.As(err, &re) {
		return err
	}
	where := fmt.Sprintf("row %d", re.Row+1)
	if f, ferr := tableio.FormatOf(se.Source); ferr == nil && f == tableio.FormatCSV {
		where = fmt.Sprintf("%d", re.Row+2)
	}
	return fmt.Errorf("%s:%s: column %q: %s (nothing was written)", se.Source, where, re.Column, re.Msg)
}

// demoDataToWarehouse ingests generated trades into the project's
// cdm_trade_enriched in one transaction.
func demoDataToWarehouse(ctx context.Context, project string, cfg demodata.Config, stdout io.Writer) error {
	w, err := catalog.OpenProject(ctx, project, catalog.Options{})
	if err != nil {
		return err
	}
	defer w.Close()
	rdr := demodata.NewReader(cfg, nil)
	defer rdr.Release()
	st, err := w.Ingest(ctx, catalog.TradesTable, catalog.ReaderSource("demo-data", rdr))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s, %s into %s (%s, snapshot %d)\n",
		count(st.Rows, "row"), count(int64(len(cfg.Symbols)), "symbol"), catalog.TradesTable, count(int64(st.Files), "data file"), st.SnapshotID)
	return nil
}
