package compute

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/featuredag/fdag/compute/kernels"
	"github.com/featuredag/fdag/formula"
	"github.com/featuredag/fdag/ir"
)

// lowering is the one table from IR primitives to kernels. Each entry builds
// the kernel factory for a node from the node's parameters.
// TestLoweringCoversFunctionTable checks that every built-in of
// formula.Functions reaches an entry here.
var lowering = map[ir.Op]func(n *ir.Node) kernels.Factory{
	ir.OpNeg:  unary(kernels.UnaryNeg),
	ir.OpLog:  unary(kernels.UnaryLog),
	ir.OpExp:  unary(kernels.UnaryExp),
	ir.OpAbs:  unary(kernels.UnaryAbs),
	ir.OpSqrt: unary(kernels.UnarySqrt),
	ir.OpAdd:  binary(kernels.BinAdd),
	ir.OpSub:  binary(kernels.BinSub),
	ir.OpMul:  binary(kernels.BinMul),
	ir.OpDiv:  binary(kernels.BinDiv),
	ir.OpPow:  binary(kernels.BinPow),
	ir.OpLT:   binary(kernels.BinLT),
	ir.OpLE:   binary(kernels.BinLE),
	ir.OpGT:   binary(kernels.BinGT),
	ir.OpGE:   binary(kernels.BinGE),
	ir.OpEQ:   binary(kernels.BinEQ),
	ir.OpNE:   binary(kernels.BinNE),
	ir.OpLag: func(n *ir.Node) kernels.Factory {
		return kernels.NewLag(n.K)
	},
	ir.OpRollingMean: rolling(kernels.AggMean),
	ir.OpRollingStd:  rolling(kernels.AggStd),
	ir.OpRollingSum:  rolling(kernels.AggSum),
	ir.OpRollingMin:  rolling(kernels.AggMin),
	ir.OpRollingMax:  rolling(kernels.AggMax),
	ir.OpRollingCorr: func(n *ir.Node) kernels.Factory {
		return kernels.NewRollingCorr(n.Window.Rows, n.Window.Dur, n.MinSamples)
	},
	ir.OpDecayAccum: func(n *ir.Node) kernels.Factory {
		return kernels.NewDecayAccum(n.HalfLife.Rows, n.HalfLife.Dur)
	},
	ir.OpEwmMean: func(n *ir.Node) kernels.Factory {
		return kernels.NewEwmMean(n.HalfLife.Rows, n.HalfLife.Dur)
	},
}

func unary(fn kernels.UnaryFn) func(*ir.Node) kernels.Factory {
	op := kernels.NewUnary(fn)
	return func(*ir.Node) kernels.Factory { return kernels.Shared(op) }
}

func binary(fn kernels.BinaryFn) func(*ir.Node) kernels.Factory {
	op := kernels.NewBinary(fn)
	return func(*ir.Node) kernels.Factory { return kernels.Shared(op) }
}

func rolling(agg kernels.Agg) func(*ir.Node) kernels.Factory {
	return func(n *ir.Node) kernels.Factory {
		return kernels.NewRolling(agg, n.Window.Rows, n.Window.Dur, n.MinSamples)
	}
}

// elementwise reports whether op's kernel is stateless and accepts
// broadcast constants.
func elementwise(op ir.Op) bool {
	switch op {
	case ir.OpNeg, ir.OpLog, ir.OpExp, ir.OpAbs, ir.OpSqrt,
		ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv, ir.OpPow,
		ir.OpLT, ir.OpLE, ir.OpGT, ir.OpGE, ir.OpEQ, ir.OpNE:
		return true
	}
	return false
}

// lower returns the kernel factory of a node.
func lower(n *ir.Node) (kernels.Factory, error) {
	mk, ok := lowering[n.Op]
	if !ok {
		return nil, fmt.Errorf("%s: no kernel for this primitive", describe(n))
	}
	return mk(n), nil
}

// describe names a node the way a user wrote it, for error messages.
func describe(n *ir.Node) string {
	var params []string
	if n.Window.Rows > 0 {
		params = append(params, strconv.Itoa(n.Window.Rows))
	}
	if n.Window.Dur > 0 {
		params = append(params, "'"+formula.FormatDuration(n.Window.Dur)+"'")
	}
	if n.HalfLife.Rows > 0 {
		params = append(params, strconv.FormatFloat(n.HalfLife.Rows, 'g', -1, 64))
	}
	if n.HalfLife.Dur > 0 {
		params = append(params, "'"+formula.FormatDuration(n.HalfLife.Dur)+"'")
	}
	if n.Op == ir.OpLag {
		params = append(params, strconv.Itoa(n.K))
	}
	name := n.Op.String()
	if len(params) == 0 {
		return name
	}
	return name + "(" + strings.Join(params, ", ") + ")"
}
