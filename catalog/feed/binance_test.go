package feed

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const realAgg = "/work/shared/data/real/binance_spot_xrpeth_aggtrades/XRPETH-aggTrades-2019-10-11_to_2019-10-13.derived.csv"

type row struct {
	sym, side string
	us        int64
	px, qty   float64
	id        int64
}

func readAll(t *testing.T, path, symbol string) ([]row, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var out []row
	for rec, err := range ReadBinance(context.Background(), path, symbol, mem, 3) {
		if err != nil {
			return out, err
		}
		s := rec.Column(0).(*array.String)
		ts := rec.Column(2).(*array.Timestamp)
		px, q := rec.Column(3).(*array.Float64), rec.Column(4).(*array.Float64)
		side, id := rec.Column(5).(*array.String), rec.Column(6).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, row{s.Value(i), side.Value(i), int64(ts.Value(i)), px.Value(i), q.Value(i), id.Value(i)})
		}
	}
	return out, nil
}

func TestReadBinance(t *testing.T) {
	cases := []struct {
		name, file, content, symbol string
		want                        []row
		wantErr                     string
	}{
		{"trades with header, ms", "BTCUSDT-trades-2024-01-01.csv",
			"id,price,qty,quote_qty,time,is_buyer_maker,is_best_match\n1,42000.5,0.01,420.005,1704067200000,true,true\n2,42001,0.5,21000.5,1704067200001,false,true\n", "",
			[]row{{"BTCUSDT", "sell", 1704067200000000, 42000.5, 0.01, 1}, {"BTCUSDT", "buy", 1704067200001000, 42001, 0.5, 2}}, ""},
		{"trades no header, us, 6 fields", "x.csv",
			"7,1.5,2,3,1735689600000123,False\n", "ETHUSDT",
			[]row{{"ETHUSDT", "buy", 1735689600000123, 1.5, 2, 7}}, ""},
		{"aggTrades no header", "XRPETH-aggTrades-2019.csv",
			"13519807,0.00146,100,5,6,1570752011620,True,True\n", "",
			[]row{{"XRPETH", "sell", 1570752011620000, 0.00146, 100, 13519807}}, ""},
		{"bad price", "BTCUSDT-trades.csv",
			"id,price,qty,quote_qty,time,is_buyer_maker\n1,1,1,1,1704067200000,true\n2,abc,1,1,1704067200000,true\n", "",
			nil, `BTCUSDT-trades.csv:3:3: column "price": cannot parse "abc" as a number`},
		{"bad bool", "BTCUSDT-trades.csv",
			"1,1,1,1,1704067200000,true\n2,1,1,1,1704067200000,maybe\n", "",
			nil, `:2:23: column "is_buyer_maker": cannot parse "maybe" as a boolean`},
		{"no symbol", "trades.csv", "1,1,1,1,1704067200000,true\n", "", nil, "no symbol"},
		{"not binance", "BTC-x.csv", "a,b\n1,2\n", "", nil, "not a Binance"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.file)
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, path, c.symbol)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("row %d = %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestReadBinanceRealAggTrades(t *testing.T) {
	if _, err := os.Stat(realAgg); err != nil {
		t.Skipf("real sample absent: %v", err)
	}
	rows, err := readAll(t, realAgg, "")
	if err != nil {
		t.Fatal(err)
	}
	// SOURCES.md: 12,477 rows, ids 13519807..13532283, is_buyer_maker True 5,953
	sells := 0
	for _, r := range rows {
		if r.side == "sell" {
			sells++
		}
	}
	if len(rows) != 12477 || rows[0].id != 13519807 || rows[len(rows)-1].id != 13532283 || sells != 5953 || rows[0].sym != "XRPETH" {
		t.Fatalf("%d rows, ids %d..%d, %d sells, symbol %s", len(rows), rows[0].id, rows[len(rows)-1].id, sells, rows[0].sym)
	}
	if rows[0].us != 1570752011620000 {
		t.Fatalf("first time %d us, want 1570752011620000 (2019-10-11 00:00:11.620)", rows[0].us)
	}
}
