package bars_test

import (
	"fmt"
	"time"

	"github.com/featuredag/fdag/bars"
)

// Tick bars of 2 trades and 1-minute time bars over five trades, in one pass.
func Example() {
	specs, err := bars.ParseSpecs("tick:2,time:1m")
	if err != nil {
		panic(err)
	}
	e, err := bars.New(nil, "BTCUSDT", specs, bars.Columns{})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2024, 1, 2, 9, 30, 0, 0, time.UTC).UnixMicro()
	err = e.PushTrades(bars.Trades{
		Time:  []int64{t0, t0 + 10e6, t0 + 50e6, t0 + 70e6, t0 + 80e6},
		Price: []float64{100, 101, 99, 102, 103},
		Size:  []float64{1, 2, 1, 1, 3},
		Side:  []int8{1, -1, 1, 1, -1},
	})
	if err != nil {
		panic(err)
	}
	e.Finish(time.UnixMicro(t0 + 120e6))
	for i, s := range e.Specs() {
		rec := e.Take(i)
		fmt.Println(s.Table(), rec.NumRows(), "bars")
		fmt.Println(" close:", rec.Column(6), "volume:", rec.Column(7), "complete:", rec.Column(12))
		rec.Release()
	}
	// Output:
	// cdm_bars_tick_2 3 bars
	//  close: [101 102 103] volume: [3 2 3] complete: [true true false]
	// cdm_bars_time_1m 2 bars
	//  close: [99 103] volume: [4 4] complete: [true true]
}
