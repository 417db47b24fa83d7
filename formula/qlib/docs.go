package qlib

import (
	"fmt"
	"strings"
)

// MarkdownDocs renders docs/qlib.md from the operator table, so the page
// cannot drift from the translations. TestDocs fails when the file
// differs; `go test ./formula/qlib -run TestDocs -update` rewrites it.
func MarkdownDocs() string {
	var b strings.Builder
	b.WriteString(`# The Qlib dialect

<!-- Generated from formula/qlib's operator table by ` + "`go test ./formula/qlib -run TestDocs -update`" + `. Do not edit. -->

fdag computes [Qlib](https://github.com/microsoft/qlib)'s expressions as Qlib writes them:
` + "`Mean($close, 5) / $close`" + `, ` + "`Corr($close, Log($volume + 1), 20)`" + `. Qlib's whole Alpha158 feature set
(` + "`qlib.contrib.data.loader.Alpha158DL`" + `, all 158 expressions) compiles unchanged over a table of bars with
columns open, high, low, close, volume and vwap, and tests/qlib checks every value against pyqlib
0.9.7 itself on the same data (Alpha158, and 30 more expressions for the operators Alpha158 does
not use): as Qlib runs (float32) within 5e-4, and Qlib's own operators run in float64 on the same
inputs within 1e-9 (137 of 188 exactly equal, the worst 5e-11).

A spec selects the dialect with ` + "`\"dialect\": \"qlib\"`" + `; a formula with a ` + "`$field`" + ` is Qlib's without it
(` + "`$`" + ` is not part of fdag's own syntax). This holds wherever specs go: feature files and ` + "`--feature`" + `
of the command line, Flight requests, the Python client:

` + "```python" + `
client.compute(bars, {"ma5": "Mean($close, 5) / $close",
                      "rank": {"formula": "Rank($close, 20)", "dialect": "qlib"}})
` + "```" + `

It is a translation, not a second engine: each Qlib operator becomes a composition of fdag's
built-ins (the table below), so common subexpressions are shared with the rest of the request,
` + "`fdag explain`" + ` shows the translated formula, lookbacks and warmups are fdag's, and errors point
into the Qlib text with a caret.

## Syntax

- ` + "`$name`" + ` is a source column (or its alias, as for fdag identifiers), never another feature.
  A bare identifier is another feature of the request or a column, as in fdag's own language.
- Numbers, ` + "`+ - * / **`" + `, unary ` + "`-`" + `, comparisons ` + "`< <= > >= == !=`" + ` and parentheses, as in Python.
  Comparisons give 1/0. ` + "`&`" + ` and ` + "`|`" + ` are not accepted: write ` + "`And(a, b)`" + `, ` + "`Or(a, b)`" + `.
- Operators take Qlib's parameter names as keywords: ` + "`Mean(feature=$close, N=5)`" + `.
- Window sizes N are integer literals (rows).

## Semantics: where Qlib differs from fdag, and what the translation does

Qlib computes on float32 series in pandas, with NaN for a missing value. The translation
reproduces Qlib's rules in fdag's model, where a missing value is null and NaN is a number:

- **Partial windows.** Qlib's rolling operators give a value as soon as the window holds one
  value (pandas ` + "`min_periods=1`" + `); fdag's rolling built-ins default to full windows. Every rolling
  operator is translated with ` + "`min_samples=1`" + `. Statistics that need two values (Std, Var, Corr,
  Cov, Slope, Rsquare, Resi) are NaN in Qlib and null in fdag on a one-value window.
- **Comparisons.** numpy's comparisons are false where either side is NaN (and ` + "`!=`" + ` true);
  fdag's put NaN above every number and propagate null. ` + "`a > b`" + ` becomes
  ` + "`where(b <= 1 / 0, where(a <= 1 / 0, a > b, 0), 0)`" + ` (a literal side needs no check), so a
  comparison with a missing ` + "`Ref($close, 1)`" + ` counts as 0 in ` + "`Mean($close > Ref($close, 1), 5)`" + `, as in Qlib.
- **Greater and Less** are np.maximum and np.minimum: NaN or missing when either side is.
  fdag's max and min skip nulls and NaN; the translation uses comparisons instead.
- **IdxMax and IdxMin** are 1-based positions in the window, oldest row first; fdag's
  rolling_argmax counts rows back from the current row. The translation is
  ` + "`rolling_count(1, N) - rolling_argmax(x, N, min_samples=1)`" + `.
- **Rank** is pandas' rolling ` + "`rank(pct=True)`" + ` (ties averaged) over partial windows: fdag's rolling_rank.
- **Corr and Rsquare** are set to NaN by Qlib where a window's std is within 2e-05 of 0
  (` + "`np.isclose(std, 0, atol=2e-05)`" + `); the translation does the same with ` + "`where`" + `.
- **EMA** is pandas' ` + "`ewm(span=N)`" + ` (alpha = 2 / (N + 1), adjust=True), or alpha N for 0 < N < 1: fdag's
  ewm_mean with the half-life of the same decay.
- **WMA** in Qlib is ` + "`np.nanmean`" + ` of the weighted terms, i.e. the linearly weighted mean divided once
  more by the number of values; the translation reproduces it (fdag's own rolling_wma is the
  weighted mean).
- **Look-ahead is refused.** ` + "`Ref(x, N)`" + ` and ` + "`Delta(x, N)`" + ` with N < 0 read future rows: an error at N
  with a caret. Future values are labels (` + "`fdag labels`" + `).
- **Range-dependent forms are refused.** Qlib's N = 0 (an expanding window, or Ref's first value)
  depends on where a query's loaded range starts, so batch shards and fetches would disagree:
  an error at N. A window N in (0, 1), which Qlib turns into an exponential mean for every
  rolling operator, is an error suggesting ` + "`EMA(x, N)`" + `.

Differences that remain (tests/qlib shows they do not arise on complete bars, nor for the missing
first rows that Ref and Delta leave):

- **A NaN computed inside an expression** (` + "`0 / 0`" + `, the log of a negative number) is a missing
  value to pandas, skipped by its windows; in fdag it is a value that makes a window's sum, mean,
  std, min and max NaN while it is inside (Polars' rule, [contracts.md](contracts.md)). Store missing source values
  as nulls, not NaN, for the two to agree.
- **Precision.** Qlib stores and computes float32 (its elementwise arithmetic stays float32);
  fdag computes in float64 and keeps more digits, so results agree to float32 precision.
  Qlib's Slope, Rsquare and Resi use raw moments (its Cython rolling.pyx), fdag shifted sums.
- **Count** of a window without any value is 0 in fdag and NaN in pandas.
- **Mad** has no translation (no fdag built-in to compose it from): an error.

## Speed

Alpha158 over 1,000,000 daily bars (500 symbols x 2,000 days), ` + "`bench/qlib_alpha158.py`" + `, one run
each, measured on 2026-12-01 on this project's 2-core machine while it was heavily loaded (load
average 17-19 from other jobs; both engines run under nice 15), so wall times are inflated and
CPU seconds are the fairer figure:

| engine | wall | CPU | peak RSS |
| --- | --- | --- | --- |
| fdag compute (whole process: Parquet in, 158 features, Parquet out) | 74.6 s | 26.0 s | 3.3 GB |
| Qlib D.features, kernels=1 (the call alone, caches off) | 341.5 s | 126.0 s | 2.1 GB |
| Qlib D.features, kernels=2 | 206.0 s | 116.2 s (workers may be undercounted) | 2.1 GB |

fdag compiles the 158 expressions into 465 nodes (176 shared by more than one feature) and is
2.8x faster than Qlib's best in wall time, 4.8x in CPU. The outputs agreed within 5e-4 relative
(1.5e-5 at the 99.99th percentile; Qlib's float32 on a symbol's first partial windows is the rest).

## Operators

| Qlib | fdag translation | how Qlib's semantics are kept |
| --- | --- | --- |
`)
	for _, f := range Functions {
		diff := f.Diff
		if f.Unsupported != "" {
			diff = "Not supported: " + f.Unsupported + "."
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", f.Signature(), f.Fdag, strings.TrimSpace(diff))
	}
	b.WriteString("\nIn the translations, x, y and N stand for the translated arguments; `1 / 0` is +inf and `0 / 0` NaN (constants the IR folds).\n")
	return b.String()
}
