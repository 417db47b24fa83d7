// Package nbview renders fdag results for notebooks: a wide feature table
// as HTML (first and last rows, row count, per-feature status with
// caret-rendered errors), series against time as an SVG line plot, and the
// DAG of a feature set as SVG laid out in Go (or as text).
//
// Everything here returns strings and depends on nothing but Arrow and the
// fdag packages, so it is tested with golden files and works in any
// front end. The GoNB glue that puts the strings in a cell is the
// subpackage nbview/gonb: in a GoNB notebook one line shows a result:
//
//	nbgonb.Table(res.Table)
//
// Output is deterministic (same input, same bytes): numbers are printed with
// fixed precision and nothing depends on map order or the clock.
package nbview
