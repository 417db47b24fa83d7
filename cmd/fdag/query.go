package main

import (
	"context"
	"flag"
	"strings"

	"github.com/featuredag/fdag/catalog"
)

// queryFlags are the row filter flags of the commands that select rows of
// a stored table (read, compact): --symbols, --start, --end, --where.
type queryFlags struct {
	symbols, start, end *string
	where               listFlag
}

func addQueryFlags(fs *flag.FlagSet) *queryFlags {
	q := &queryFlags{
		symbols: fs.String("symbols", "", "comma-separated `symbols` (default: all)"),
		start:   fs.String("start", "", "start `time`, inclusive (RFC 3339 or YYYY-MM-DD)"),
		end:     fs.String("end", "", "end `time`, exclusive"),
	}
	fs.Var(&q.where, "where", "`COL=VALUE` equality filter on a string column (repeatable; values of one column are OR'ed)")
	return q
}

// query is the catalog query the flags give.
func (f *queryFlags) query() (catalog.TableQuery, error) {
	q := catalog.TableQuery{Equal: map[string][]string{}}
	for _, s := range strings.Split(*f.symbols, ",") {
		if s = strings.TrimSpace(s); s != "" {
			q.Symbols = append(q.Symbols, s)
		}
	}
	var err error
	if *f.start != "" {
		if q.Start, err = parseTime("start", *f.start); err != nil {
			return q, err
		}
	}
	if *f.end != "" {
		if q.End, err = parseTime("end", *f.end); err != nil {
			return q, err
		}
	}
	for _, wh := range f.where {
		col, v, err := splitNameValue("where", wh)
		if err != nil {
			return q, err
		}
		q.Equal[col] = append(q.Equal[col], v)
	}
	return q, nil
}

// tablesOrAll is []string{name}, or every table of the warehouse when name
// is empty (gc and compact work on one table or all).
func tablesOrAll(ctx context.Context, wh *catalog.Warehouse, name string) ([]string, error) {
	if name != "" {
		return []string{name}, nil
	}
	infos, err := wh.ListTables(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range infos {
		names = append(names, t.Name)
	}
	return names, nil
}
