package compute

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/featuredag/fdag/compute/kernels"
	"github.com/featuredag/fdag/formula"
	"github.com/featuredag/fdag/ir"
)

// Lowering binds each IR primitive to its kernel by name, through the
// kernel registry (kernels.Default, filled by each family's RegisterXxx).
// TestOpTable checks that every row of ir's op table has a kernel and that
// no kernel is left without a row.

// elementwise reports whether op's kernel is stateless and accepts
// broadcast constants.
func elementwise(op ir.Op) bool { return kernels.Default().Stateless(op.String()) }

// lower returns the kernel factory of a node.
func lower(n *ir.Node) (kernels.Factory, error) {
	mk, ok := kernels.Default().Lookup(n.Op.String())
	if !ok {
		return nil, fmt.Errorf("%s: no kernel for this primitive", describe(n))
	}
	f, err := mk(n.Params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", describe(n), err)
	}
	return f, nil
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
	if n.Op.Class() == ir.ClassShift {
		params = append(params, strconv.Itoa(n.K))
	}
	name := n.Op.String()
	if len(params) == 0 {
		return name
	}
	return name + "(" + strings.Join(params, ", ") + ")"
}
