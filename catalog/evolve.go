package catalog

import (
	"context"
	"fmt"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// evolve adds to tbl the columns of def that it lacks (by name), in one
// schema change, and returns the table as committed. Only additions are
// made, always as optional columns: data files written before read them as
// null (Iceberg resolves columns by field id), and writers of the old
// schema keep working until they reload the table. This is how a
// ft_features created before seq and trade_id existed gets them on the
// next write.
func (w *Warehouse) evolve(ctx context.Context, name string, tbl *table.Table, def TableDef) (*table.Table, error) {
	missing := missingColumns(tbl, def)
	if len(missing) == 0 {
		return tbl, nil
	}
	tx := tbl.NewTransaction()
	up := tx.UpdateSchema(true, false)
	for _, f := range missing {
		up = up.AddColumn([]string{f.Name}, f.Type, f.Doc, false, nil)
	}
	err := up.Commit()
	if err == nil {
		tbl, err = tx.Commit(ctx)
	}
	if err != nil {
		// A concurrent writer may have evolved it first: fine if the
		// columns are there now.
		again, lerr := w.cat.LoadTable(ctx, w.ident(name))
		if lerr == nil && len(missingColumns(again, def)) == 0 {
			return again, nil
		}
		return nil, fmt.Errorf("table %s.%s: add columns %s: %w", w.cfg.Namespace, name, columnNames(missing), err)
	}
	w.log.Info("evolved table", "table", name, "added", columnNames(missing))
	return tbl, nil
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
