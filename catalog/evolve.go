package catalog

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// evolve adds to tbl the columns of def that it lacks (by name), in one
// schema change, and the properties fdag creates such a table with that it
// lacks (tableProperties), and returns the table as committed. Only
// additions are made, columns always optional: data files written before
// read them as null (Iceberg resolves columns by field id), and writers of
// the old schema keep working until they reload the table. This is how a
// ft_features created before seq and trade_id existed gets them on the
// next write, and one created before its write properties (Snappy, full
// bounds of the columns a replacing commit filters on) gets those; a
// property already set, by fdag or by hand, is kept as it is.
func (w *Warehouse) evolve(ctx context.Context, name string, tbl *table.Table, def TableDef) (*table.Table, error) {
	missing := missingColumns(tbl, def)
	props := missingProperties(tbl, def)
	if len(missing) == 0 && len(props) == 0 {
		return tbl, nil
	}
	tx := tbl.NewTransaction()
	var err error
	if len(missing) > 0 {
		up := tx.UpdateSchema(true, false)
		for _, f := range missing {
			up = up.AddColumn([]string{f.Name}, f.Type, f.Doc, false, nil)
		}
		err = up.Commit()
	}
	if err == nil && len(props) > 0 {
		err = tx.SetProperties(props)
	}
	if err == nil {
		tbl, err = tx.Commit(ctx)
	}
	if err != nil {
		// A concurrent writer may have evolved it first: fine if the
		// columns and properties are there now.
		again, lerr := w.cat.LoadTable(ctx, w.ident(name))
		if lerr == nil && len(missingColumns(again, def)) == 0 && len(missingProperties(again, def)) == 0 {
			return again, nil
		}
		return nil, fmt.Errorf("table %s.%s: add columns %s and properties %s: %w", w.cfg.Namespace, name, columnNames(missing), slices.Sorted(maps.Keys(props)), err)
	}
	w.log.Info("evolved table", "table", name, "added", columnNames(missing), "properties", slices.Sorted(maps.Keys(props)))
	return tbl, nil
}

// missingProperties are the properties fdag creates def's table with that
// tbl does not have.
func missingProperties(tbl *table.Table, def TableDef) iceberg.Properties {
	have := tbl.Properties()
	out := iceberg.Properties{}
	for k, v := range tableProperties(def) {
		if _, ok := have[k]; !ok && k != "format-version" {
			out[k] = v
		}
	}
	return out
}

type columnDef struct {
	Name, Doc string
	Type      iceberg.Type
}

func missingColumns(tbl *table.Table, def TableDef) []columnDef {
	var out []columnDef
	for _, f := range def.Schema.Fields() {
		if _, ok := tbl.Schema().FindFieldByName(f.Name); !ok {
			out = append(out, columnDef{Name: f.Name, Doc: f.Doc, Type: f.Type})
		}
	}
	return out
}

func columnNames(cols []columnDef) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}
