package compute

import "github.com/featuredag/fdag/ir"

// StateBytes estimates the memory the stream's kernel state holds: window
// rings, min/max deques and lag lines (compute/kernels), which grow with
// the rows seen and stop at the window (issue 8). For each stateful node it
// is the bytes a row takes in its ring, doubled for the ring's power-of-two
// slack, times the rows it can hold: at most the rows seen, and for a row
// window or lag at most its length per symbol. It is an upper bound that a
// server compares with its memory limit after each batch.
func (s *Stream) StateBytes() int64 {
	var total int64
	symbols := int64(max(len(s.states), 1))
	for _, st := range s.prog.steps {
		perRow, rows := stateShape(st.node)
		if perRow == 0 {
			continue
		}
		held := s.rows
		if rows > 0 {
			held = min(held, symbols*int64(rows))
		}
		total += 2 * perRow * held
	}
	return total
}

// stateShape is the bytes per row of a node's kernel state and the rows it
// holds per symbol (0: as many as its duration window covers, unbounded by
// the plan).
func stateShape(n *ir.Node) (perRow int64, rows int) {
	const slot = 8 + 1 // value and validity
	switch n.Op.Class() {
	case ir.ClassShift:
		return slot, n.K
	case ir.ClassRolling:
		perRow = slot + 8*int64(len(n.Args)-1) // a second value for pairs (corr)
		if name := n.Op.String(); name == "rolling_min" || name == "rolling_max" {
			perRow += 16 // deque: sequence number and value
		}
		if n.Window.Dur > 0 {
			return perRow + 8, 0 // and the time
		}
		return perRow, n.Window.Rows
	}
	return 0, 0
}
