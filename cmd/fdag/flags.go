package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"strings"

	"github.com/featuredag/fdag/catalog"
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
	// The flag package prints a parse error and the whole usage before
	// returning the error, which run prints again: parse errors are
	// printed once, by run, and the usage only on --help.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fdag %s %s\n\nflags:\n", name, synopsis)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		fmt.Fprintf(stderr, "\nexamples:\n%s", examples)
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors (printed
// once, with where to find the flags); --help prints the usage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		usage()
		return err
	}
	return usagef("%v (%s --help lists the flags)", err, fs.Name())
}

// checkProject refuses a --project that is not an existing directory,
// before anything opens it: opening the embedded catalog creates
// DIR/.fdag, so a typo used to leave a new empty project behind on the way
// to failing (or, for explain and compute, silently used the built-in
// FeatureTypes only). fdag demo-data --project is the one command that
// creates a project.
func checkProject(dir string) error {
	if dir == "" {
		dir = "."
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		return usagef("--project %s: no such project directory (mkdir it for a new project, or fdag demo-data --project %s)", dir, dir)
	case err != nil:
		return usagef("--project %s: %v", dir, err)
	case !st.IsDir():
		return usagef("--project %s: no such project directory (it is a file)", dir)
	}
	return nil
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
	if err := checkProject(dir); err != nil {
		return nil, err
	}
	return project.LoadRegistry(dir)
}

// loadProject loads a project directory for the commands that touch its
// warehouse.
func loadProject(dir string) (*project.Project, error) {
	if err := checkProject(dir); err != nil {
		return nil, err
	}
	return project.Load(dir, project.Options{})
}

// openProject opens the warehouse of an existing project directory.
func openProject(ctx context.Context, dir string, opts catalog.Options) (*catalog.Warehouse, error) {
	if err := checkProject(dir); err != nil {
		return nil, err
	}
	return catalog.OpenProject(ctx, dir, opts)
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
