package labels_test

import (
	"fmt"

	"github.com/featuredag/fdag/labels"
)

// Fixed-horizon labels two rows ahead with a 1% threshold.
func ExampleFixedHorizon() {
	_, lab, err := labels.FixedHorizon([]float64{100, 101, 103, 100, 99}, 2, 0.01)
	if err != nil {
		panic(err)
	}
	fmt.Println(lab)
	// Output: [1 0 -1 NaN NaN]
}

// The triple barrier: profit-take at +1 vol, stop-loss at -1 vol.
func ExampleTripleBarrier() {
	times := []int64{0, 1, 2, 3, 4}
	closes := []float64{100, 100.5, 102, 99, 98}
	vol := []float64{0.01, 0.01, 0.01, 0.01, 0.01}
	touches, err := labels.TripleBarrier(times, closes, vol, nil, labels.Barriers{PT: 1, SL: 1})
	if err != nil {
		panic(err)
	}
	for _, t := range touches[:3] {
		fmt.Printf("t1=%d label=%v barrier=%d\n", t.T1, t.Label, t.Barrier)
	}
	// Output:
	// t1=2 label=1 barrier=1
	// t1=2 label=1 barrier=1
	// t1=3 label=-1 barrier=-1
}
