package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/featuredag/fdag/internal/tableio"
	"github.com/featuredag/fdag/ir"
)

const explainExamples = `  fdag explain 'rolling_mean(close, 20) / rolling_mean(close, 100)'
  fdag explain 'ret=log(close) - log(lag(close))' 'vol=rolling_std(ret, 100)'
  fdag explain --features testdata/features/demo.yaml
  fdag explain --input trades.parquet 'rolling_mean(close, 20)'   (identifiers checked against its columns)
  fdag explain --columns event_time,symbol,px --alias close=px 'log(close)'
  fdag explain --dot --features testdata/features/demo.yaml | dot -Tsvg > dag.svg   (dot is Graphviz: apt install graphviz)
`

func runExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("explain", "[--features FILE] [--input FILE | --columns A,B] [--dot] [FORMULA | NAME=FORMULA]...", explainExamples, stderr)
	var (
		featureFile = fs.String("features", "", "feature specs, a YAML or JSON `FILE`")
		input       = fs.String("input", "", "input table `FILE`.parquet|.csv whose columns the formulas must use (only its schema or header is read); without it or --columns any unknown name is taken as a column")
		columns     = fs.String("columns", "", "comma-separated input `columns` the formulas must use (instead of --input)")
		dot         = fs.Bool("dot", false, "print Graphviz DOT instead of text")
		project     = fs.String("project", ".", "project `DIR` holding FeatureType YAML files")
		aliases     listFlag
	)
	fs.Var(&aliases, "alias", "column alias `NAME=COLUMN` (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *featureFile == "" && fs.NArg() == 0 {
		return usagef("give formulas as arguments or --features FILE")
	}
	var specs []ir.Spec
	if *featureFile != "" {
		var err error
		if specs, err = ir.LoadSpecs(*featureFile); err != nil {
			return fmt.Errorf("features %s: %w", *featureFile, err)
		}
	}
	specs = append(specs, argSpecs(fs.Args())...)
	aliasMap, err := aliasFlags(aliases)
	if err != nil {
		return err
	}
	if *input != "" && *columns != "" {
		return usagef("give --input or --columns, not both")
	}
	var cols []string // nil: not known, any name may be a column
	switch {
	case *input != "":
		if cols, err = tableio.Columns(*input); err != nil {
			return err
		}
	case *columns != "":
		cols = splitList(*columns)
	}
	reg, err := loadRegistry(*project)
	if err != nil {
		return err
	}

	plan := ir.Compile(specs, ir.Options{Registry: reg, Aliases: aliasMap, SourceColumns: cols})
	if *dot {
		fmt.Fprint(stdout, plan.DOT())
	} else {
		fmt.Fprint(stdout, plan.Explain())
	}
	// Failed features are shown by the plan too; stderr gets them one per
	// line so that scripts can tell, and only a plan with nothing left fails.
	for _, f := range plan.Failed() {
		if f.Err != nil {
			fmt.Fprintln(stderr, f.Err)
		}
	}
	if len(plan.Failed()) == len(plan.Features) {
		return errors.New("no feature compiled")
	}
	return nil
}

// argSpecs names formula arguments f1, f2, ... unless written NAME=FORMULA.
// Only an identifier before the first '=' counts as a name, so comparisons
// such as 'close == lag(close)' stay formulas.
func argSpecs(args []string) []ir.Spec {
	specs := make([]ir.Spec, 0, len(args))
	for i, a := range args {
		name, formula, ok := strings.Cut(a, "=")
		name = strings.TrimSpace(name)
		if !ok || !isIdentifier(name) || strings.HasPrefix(formula, "=") {
			name, formula = "f"+strconv.Itoa(i+1), a
		}
		specs = append(specs, ir.Spec{Name: name, Formula: strings.TrimSpace(formula)})
	}
	return specs
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
