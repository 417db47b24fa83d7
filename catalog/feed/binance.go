// Package feed maps exchange trade files to cdm_trade_enriched record
// batches. One format so far: Binance's public trade dumps
// (data.binance.vision), in both of their CSV layouts:
//
//	trades:    id, price, qty, quote_qty, time, is_buyer_maker[, is_best_match]
//	aggTrades: agg_trade_id, price, quantity, first_trade_id, last_trade_id,
//	           transact_time, is_buyer_maker[, is_best_match]
//
// with or without a header line (older spot dumps have none), times in
// milliseconds or (spot dumps since 2025) microseconds, told apart by
// magnitude, and booleans as true/false/True/False.
//
// Mapping: symbol from the caller (or the file name, BTCUSDT-trades-...),
// venue "binance", event_time = time, trade_price = price, trade_size = qty,
// side = "sell" when is_buyer_maker (the taker sold into a resting bid),
// else "buy", trade_id = id (aggregate id for aggTrades).
package feed

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog"
)

// Schema is the cdm_trade_enriched shape the batches have.
var Schema = catalog.TradeArrowSchema

// Layout is a Binance CSV layout: the positions of the columns used.
type Layout struct {
	Name                            string
	ID, Price, Qty, Time, BuyerMake int
	MinFields, MaxFields            int
}

var (
	Trades    = Layout{Name: "trades", ID: 0, Price: 1, Qty: 2, Time: 4, BuyerMake: 5, MinFields: 6, MaxFields: 7}
	AggTrades = Layout{Name: "aggTrades", ID: 0, Price: 1, Qty: 2, Time: 5, BuyerMake: 6, MinFields: 8, MaxFields: 8}
)

var headers = map[string]Layout{
	"id,price,qty,quote_qty,time,is_buyer_maker":                                                          Trades,
	"id,price,qty,quote_qty,time,is_buyer_maker,is_best_match":                                            Trades,
	"agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker":               AggTrades,
	"agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match": AggTrades,
}

// Sniff reads the first line of a CSV file and reports whether it is a
// Binance trades or aggTrades dump, which layout, and whether it has a
// header.
func Sniff(path string) (Layout, bool, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return Layout{}, false, false, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if errors.Is(err, io.EOF) {
		return Layout{}, false, false, nil
	}
	if err != nil {
		return Layout{}, false, false, fmt.Errorf("%s: %w", path, err)
	}
	if l, ok := headers[strings.ToLower(strings.Join(rec, ","))]; ok {
		return l, true, true, nil
	}
	for _, l := range []Layout{Trades, AggTrades} {
		if len(rec) < l.MinFields || len(rec) > l.MaxFields {
			continue
		}
		_, e1 := strconv.ParseInt(rec[l.ID], 10, 64)
		_, e2 := strconv.ParseInt(rec[l.Time], 10, 64)
		_, ok := parseBool(rec[l.BuyerMake])
		if e1 == nil && e2 == nil && ok {
			return l, false, true, nil
		}
	}
	return Layout{}, false, false, nil
}

// SymbolFromFileName returns BTCUSDT for BTCUSDT-trades-2024-01-01.csv (the
// part before the first '-'), or "" when the name has no such part.
func SymbolFromFileName(path string) string {
	base := filepath.Base(path)
	sym, _, ok := strings.Cut(base, "-")
	if !ok || sym == "" {
		return ""
	}
	return strings.ToUpper(sym)
}

func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "True", "TRUE", "1":
		return true, true
	case "false", "False", "FALSE", "0":
		return false, true
	}
	return false, false
}

// usThreshold: times at or above it are microseconds (1e14 ms is the year
// 5138; 1e14 us is 1973).
const usThreshold = 100_000_000_000_000

// ReadBinance returns the trades of a Binance CSV dump as record batches
// of batchRows rows (Schema). Errors name the file, the line and the
// column. Each batch is valid while yield runs and released after it
// returns (catalog.Source's contract); a consumer keeping one retains it.
func ReadBinance(ctx context.Context, path, symbol string, mem memory.Allocator, batchRows int) iter.Seq2[arrow.RecordBatch, error] {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if batchRows <= 0 {
		batchRows = 1 << 16
	}
	return func(yield func(arrow.RecordBatch, error) bool) {
		if symbol == "" {
			symbol = SymbolFromFileName(path)
		}
		if symbol == "" {
			yield(nil, fmt.Errorf("%s: no symbol: pass --symbol or name the file SYMBOL-trades-....csv", path))
			return
		}
		layout, header, ok, err := Sniff(path)
		if err != nil {
			yield(nil, err)
			return
		}
		if !ok {
			yield(nil, fmt.Errorf("%s:1: not a Binance trades or aggTrades CSV (want id,price,qty,quote_qty,time,is_buyer_maker)", path))
			return
		}
		f, err := os.Open(path)
		if err != nil {
			yield(nil, err)
			return
		}
		defer f.Close()
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		r.ReuseRecord = true
		if header {
			if _, err := r.Read(); err != nil {
				yield(nil, fmt.Errorf("%s: %w", path, err))
				return
			}
		}
		b := array.NewRecordBuilder(mem, Schema)
		defer b.Release()
		var (
			sym   = b.Field(0).(*array.StringBuilder)
			venue = b.Field(1).(*array.StringBuilder)
			ts    = b.Field(2).(*array.TimestampBuilder)
			price = b.Field(3).(*array.Float64Builder)
			size  = b.Field(4).(*array.Float64Builder)
			side  = b.Field(5).(*array.StringBuilder)
			id    = b.Field(6).(*array.Int64Builder)
		)
		colName := func(i int) string {
			switch i {
			case layout.ID:
				return "id"
			case layout.Price:
				return "price"
			case layout.Qty:
				return "qty"
			case layout.Time:
				return "time"
			}
			return "is_buyer_maker"
		}
		n := 0
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					yield(nil, fmt.Errorf("%s:%d: %w", path, pe.Line, pe.Err))
				} else {
					yield(nil, fmt.Errorf("%s: %w", path, err))
				}
				return
			}
			line, _ := r.FieldPos(0)
			if len(rec) < layout.MinFields || len(rec) > layout.MaxFields {
				yield(nil, fmt.Errorf("%s:%d: expected %d fields (Binance %s layout), got %d", path, line, layout.MinFields, layout.Name, len(rec)))
				return
			}
			bad := func(col int, what string) {
				l, c := r.FieldPos(col)
				yield(nil, fmt.Errorf("%s:%d:%d: column %q: cannot parse %q as %s", path, l, c, colName(col), rec[col], what))
			}
			tid, err := strconv.ParseInt(rec[layout.ID], 10, 64)
			if err != nil {
				bad(layout.ID, "an integer trade id")
				return
			}
			p, err := strconv.ParseFloat(rec[layout.Price], 64)
			if err != nil {
				bad(layout.Price, "a number")
				return
			}
			q, err := strconv.ParseFloat(rec[layout.Qty], 64)
			if err != nil {
				bad(layout.Qty, "a number")
				return
			}
			t, err := strconv.ParseInt(rec[layout.Time], 10, 64)
			if err != nil || t < 0 {
				bad(layout.Time, "epoch milliseconds or microseconds")
				return
			}
			if t < usThreshold {
				t *= 1000
			}
			maker, ok := parseBool(rec[layout.BuyerMake])
			if !ok {
				bad(layout.BuyerMake, "a boolean")
				return
			}
			sym.Append(symbol)
			venue.Append("binance")
			ts.Append(arrow.Timestamp(t))
			price.Append(p)
			size.Append(q)
			if maker {
				side.Append("sell")
			} else {
				side.Append("buy")
			}
			id.Append(tid)
			n++
			if n == batchRows {
				if err := ctx.Err(); err != nil {
					yield(nil, err)
					return
				}
				rec := b.NewRecordBatch()
				ok := yield(rec, nil)
				rec.Release()
				if !ok {
					return
				}
				n = 0
			}
		}
		if n > 0 {
			rec := b.NewRecordBatch()
			yield(rec, nil)
			rec.Release()
		}
	}
}
