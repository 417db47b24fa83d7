package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/featuredag/fdag/ir"
	"github.com/featuredag/fdag/project"
)

// usageError is a request that is wrong as written (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// newFlagSet returns a FlagSet whose --help prints the synopsis, the flags
// and the examples, and whose errors become usage errors.
func newFlagSet(name, synopsis, examples string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("fdag "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fdag %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nexamples:\n%s", examples)
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err.Error()}
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// splitNameValue splits NAME=VALUE.
func splitNameValue(flagName, s string) (string, string, error) {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", "", usagef("--%s %q: want NAME=VALUE", flagName, s)
	}
	return name, strings.TrimSpace(value), nil
}

// inlineSpecs turns --feature NAME=FORMULA flags into specs.
func inlineSpecs(flags []string) ([]ir.Spec, error) {
	specs := make([]ir.Spec, 0, len(flags))
	for _, f := range flags {
		name, formula, err := splitNameValue("feature", f)
		if err != nil {
			return nil, err
		}
		specs = append(specs, ir.Spec{Name: name, Formula: formula})
	}
	return specs, nil
}

// loadRegistry returns the project's FeatureType registry (built-ins, then
// DIR and DIR/features), the same as fdag-flight's (project.LoadRegistry).
func loadRegistry(dir string) (*ir.Registry, error) {
	return project.LoadRegistry(dir)
}

// loadProject loads a project directory for the commands that touch its
// warehouse.
func loadProject(dir string) (*project.Project, error) {
	return project.Load(dir, project.Options{})
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
