package compute

import "github.com/featuredag/fdag/compute/kernels"

// StateBytes is the memory the stream's kernel state holds now: the window
// rings, min/max deques, order-statistic trees and lag lines of every
// symbol (kernels.Sizer), which grow with the rows seen and stop at the
// window (issue 8). It is measured from the kernels, not estimated from the
// plan: an estimate of "every row seen" for each duration window refused a
// 10M-row exchange of the demo features whose real state is a few MB. A
// server compares it with its memory limit after each batch; the cost is a
// walk over symbols x stateful nodes.
func (s *Stream) StateBytes() int64 {
	var total int64
	for _, st := range s.states {
		for _, op := range st.ops {
			if sz, ok := op.(kernels.Sizer); ok {
				total += sz.StateBytes()
			}
		}
	}
	return total
}
