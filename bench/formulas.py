"""fdag formulas translated to Polars (lazy, `.over(symbol)`) and to DuckDB SQL
(window functions), for the reference engines of bench/.

Formulas are Python expression syntax, so they are parsed with Python's `ast`
(as the original Python/Polars system did). Each built-in maps to the same
Polars call, with the same parameters, as the agreement tests of
tests/python/test_polars_agreement.py use (`rolling_*` with min_samples = w,
`rolling_*_by(closed="right")`, `ewm_mean(half_life, adjust=True,
min_samples=1, ignore_nulls=False)`, `ewm_mean_by`), and duration strings are
parsed by tests/python/reference.py's `duration_us`.

What neither reference has natively is built from what it has, the way a user
of that engine would write it:
- Polars has no duration-window corr: raw moments over `rolling_sum_by`.
- Neither has `decay_accum`, and DuckDB has no `ewm_mean`: both come from
  one block-rebased cumulative sum (`decay` below): sum_i x_i 2^-(u_t - u_i),
  u in half-lives (rows / h or time / h). Each block of 500 half-lives sums
  x_i 2^(u_i - block start) (no overflow: at most 2^500) and carries the
  previous block's total; blocks further back weigh less than 2^-500 and are
  dropped. ewm_mean is then a ratio of two such sums (rows, adjust=True) or
  the sum of x_i (1 - 2^-(dt_i/h)) (durations, Polars' ewm_mean_by update).
"""

from __future__ import annotations

import ast
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

from reference import duration_us  # noqa: E402  (the tests' duration parser)

SYMBOL = "symbol"
TIME = "event_time"
ALIASES = {"close": "trade_price", "volume": "trade_size"}
BLOCK_HALF_LIVES = 500  # 2^500 fits a float64 with room for the sums

ROLLING = {"rolling_mean": "mean", "rolling_sum": "sum", "rolling_min": "min",
           "rolling_max": "max", "rolling_std": "std"}
ELEMENTWISE = {"log", "abs", "sqrt", "exp"}


class FormulaError(ValueError):
    pass


@dataclass
class Feature:
    name: str
    formula: str
    tree: ast.expr
    deps: set[str] = field(default_factory=set)
    # Holds a duration window (rolling_*(x, '5m')) on some path: the
    # references include later rows of the same timestamp there.
    duration_window: bool = False


def load_features(path: str | Path) -> list[Feature]:
    """Reads a feature set (JSON: a list or {"features": [...]}, inline
    formulas only) and returns the features in dependency order."""
    data = json.loads(Path(path).read_text())
    specs = data["features"] if isinstance(data, dict) else data
    feats: dict[str, Feature] = {}
    for s in specs:
        if "formula" not in s:
            raise FormulaError(f"{s.get('name')}: only inline formulas are translated (no 'type' specs)")
        try:
            tree = ast.parse(s["formula"], mode="eval").body
        except SyntaxError as e:
            raise FormulaError(f"{s['name']}: {e}") from None
        feats[s["name"]] = Feature(s["name"], s["formula"], tree)
    for f in feats.values():
        for node in ast.walk(f.tree):
            if isinstance(node, ast.Name) and node.id in feats and node.id != f.name:
                f.deps.add(node.id)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and (node.func.id in ROLLING or node.func.id == "rolling_corr")
                    and isinstance(_window_arg(node), str)):
                f.duration_window = True
    ordered: list[Feature] = []
    state: dict[str, int] = {}

    def visit(n: str, path: tuple[str, ...]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise FormulaError(f"cycle: {' -> '.join(path + (n,))}")
        state[n] = 1
        for d in sorted(feats[n].deps):
            visit(d, path + (n,))
        state[n] = 2
        ordered.append(feats[n])

    for n in feats:
        visit(n, ())
    for f in ordered:  # duration windows propagate through feature references
        f.duration_window = f.duration_window or any(feats[d].duration_window for d in f.deps)
    return ordered


def _window_arg(call: ast.Call):
    i = 2 if call.func.id == "rolling_corr" else 1
    if len(call.args) <= i or not isinstance(call.args[i], ast.Constant):
        return None
    return call.args[i].value


def _const(node: ast.expr, what: str):
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    if not isinstance(node, ast.Constant):
        raise FormulaError(f"{what} must be a constant, got {ast.unparse(node)}")
    return node.value


def _call(node: ast.Call) -> tuple[str, list[ast.expr]]:
    if not isinstance(node.func, ast.Name) or node.keywords:
        raise FormulaError(f"unsupported call {ast.unparse(node)}")
    return node.func.id, list(node.args)


# --------------------------------------------------------------------------
# Polars


class PolarsPlan:
    """Stages of with_columns; a feature or helper column defined in stage s
    is visible from stage s + 1."""

    def __init__(self, features: list[Feature], per_symbol: bool = False):
        """per_symbol: for a frame holding one symbol (the partition_by +
        collect_all query): windows without .over(symbol)."""
        import polars as pl

        self.pl = pl
        self.per_symbol = per_symbol
        self.stages: list[list] = []
        self.col_stage: dict[str, int] = {}
        self.tmp = 0
        self.memo: dict[str, tuple] = {}
        self.features = features
        for f in features:
            expr, need, win = self.emit(f.tree)
            self.add(f.name, self.over(expr) if win else expr, need)

    def over(self, expr, *keys):
        """expr per symbol (and per keys)."""
        if self.per_symbol:
            return expr.over(list(keys)) if keys else expr
        return expr.over([SYMBOL, *keys])

    def add(self, name: str, expr, stage: int) -> None:
        while len(self.stages) <= stage:
            self.stages.append([])
        self.stages[stage].append(expr.cast(self.pl.Float64).alias(name) if name in
                                  {f.name for f in self.features} else expr.alias(name))
        self.col_stage[name] = stage

    def helper(self, expr, stage: int) -> tuple[object, int]:
        self.tmp += 1
        name = f"__h{self.tmp}"
        self.add(name, expr, stage)
        return self.pl.col(name), stage + 1

    def operand(self, node: ast.expr) -> tuple[object, int]:
        """node as the argument of a window: a windowed value is first
        materialised as a column (so every .over() is one level deep)."""
        expr, need, win = self.emit(node)
        if win:
            return self.helper(self.over(expr), need)
        return expr, need

    def emit(self, node: ast.expr):
        """(expression, first stage it can be placed in, needs .over)."""
        pl = self.pl
        if isinstance(node, ast.Constant):
            return pl.lit(float(node.value)), 0, False
        if isinstance(node, ast.Name):
            name = ALIASES.get(node.id, node.id)
            if node.id in self.col_stage:
                return pl.col(node.id), self.col_stage[node.id] + 1, False
            return pl.col(name), 0, False
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            e, n, w = self.emit(node.operand)
            return -e, n, w
        if isinstance(node, ast.BinOp):
            a, na, wa = self.emit(node.left)
            b, nb, wb = self.emit(node.right)
            ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                   ast.Div: lambda: a / b, ast.Pow: lambda: a.pow(b)}
            return ops[type(node.op)](), max(na, nb), wa or wb
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            a, na, wa = self.emit(node.left)
            b, nb, wb = self.emit(node.comparators[0])
            ops = {ast.Gt: a > b, ast.Lt: a < b, ast.GtE: a >= b, ast.LtE: a <= b,
                   ast.Eq: a == b, ast.NotEq: a != b}
            return ops[type(node.ops[0])].cast(pl.Float64), max(na, nb), wa or wb
        if isinstance(node, ast.Call):
            key = ast.dump(node)
            if key not in self.memo:  # a repeated call is computed once
                self.memo[key] = self.call(node)
            return self.memo[key]
        raise FormulaError(f"unsupported expression {ast.unparse(node)}")

    def call(self, node: ast.Call):
        pl = self.pl
        fn, args = _call(node)
        if fn in ELEMENTWISE:
            e, n, w = self.emit(args[0])
            return getattr(e, fn)(), n, w
        if fn in ("lag", "diff"):
            e, n = self.operand(args[0])
            k = int(_const(args[1], "k")) if len(args) > 1 else 1
            return (e.shift(k) if fn == "lag" else e - e.shift(k)), n, True
        if fn in ROLLING:
            x, n = self.operand(args[0])
            w = _const(args[1], "window")
            how = ROLLING[fn]
            if isinstance(w, str):
                ms = int(_const(args[2], "min_samples")) if len(args) > 2 else 1
                return getattr(x, f"rolling_{how}_by")(TIME, window_size=w, min_samples=ms, closed="right"), n, True
            ms = int(_const(args[2], "min_samples")) if len(args) > 2 else int(w)
            return getattr(x, f"rolling_{how}")(int(w), min_samples=ms), n, True
        if fn == "rolling_corr":
            x, nx = self.operand(args[0])
            y, ny = self.operand(args[1])
            n = max(nx, ny)
            w = _const(args[2], "window")
            if isinstance(w, str):
                ms = int(_const(args[3], "min_samples")) if len(args) > 3 else 1
                return self.corr_by(x, y, w, ms), n, True
            ms = int(_const(args[3], "min_samples")) if len(args) > 3 else int(w)
            return pl.rolling_corr(x, y, window_size=int(w), min_samples=ms), n, True
        if fn == "ewm_mean":
            x, n = self.operand(args[0])
            h = _const(args[1], "half-life")
            if isinstance(h, str):
                return x.ewm_mean_by(TIME, half_life=h), n, True
            return x.ewm_mean(half_life=float(h), adjust=True, min_samples=1, ignore_nulls=False), n, True
        if fn == "decay_accum":
            x, n = self.operand(args[0])
            return self.decay(x, _const(args[1], "half-life"), n)
        raise FormulaError(f"unknown function {fn}")

    def corr_by(self, x, y, w: str, ms: int):
        """Pearson correlation over (t - w, t] from raw moments: Polars has
        no rolling_corr_by (and its rolling_corr is raw moments too)."""
        pl = self.pl
        both = x.is_not_null() & y.is_not_null()
        xm, ym = pl.when(both).then(x), pl.when(both).then(y)

        def s(e):
            return e.rolling_sum_by(TIME, window_size=w, closed="right")

        n = s(both.cast(pl.Float64))
        sx, sy = s(xm), s(ym)
        cov = s(xm * ym) - sx * sy / n
        vx = s(xm * xm) - sx * sx / n
        vy = s(ym * ym) - sy * sy / n
        return pl.when(n >= max(2, ms)).then(cov / (vx * vy).sqrt())

    def decay(self, x, h, stage: int):
        """decay_accum(x, h) by block-rebased sums (module docstring)."""
        pl = self.pl
        if isinstance(h, str):
            t = pl.col(TIME).dt.epoch("us")
            span = t - self.over(t.first())
            unit = float(duration_us(h))
        else:
            span = self.over(pl.int_range(pl.len()))
            unit = float(h)
        block_len = max(1, int(BLOCK_HALF_LIVES * unit))
        span, s0 = self.helper(span, stage)
        blk, s1 = self.helper(span // block_len, s0)
        e, _ = self.helper((span - (span // block_len) * block_len) / unit, s0)
        w, _ = self.helper(x.fill_null(0.0) * pl.lit(2.0).pow((span - (span // block_len) * block_len) / unit), s0)
        started, _ = self.helper(self.over(x.is_not_null().cum_sum()) > 0, s0)
        cs, s2 = self.helper(self.over(w.cum_sum(), blk), s1)
        bs, _ = self.helper(self.over(w.sum(), blk), s1)
        prev_blk, prev_bs = blk.shift(1), bs.shift(1)
        first = prev_blk.is_null() | (prev_blk != blk)
        gap_half_lives = (blk - prev_blk).cast(pl.Float64) * (block_len / unit)
        carry0 = (pl.when(first & prev_blk.is_not_null()).then(prev_bs * pl.lit(2.0).pow(-gap_half_lives))
                  .when(first).then(0.0))
        carry, s3 = self.helper(self.over(carry0), s2)
        carry, s4 = self.helper(self.over(carry.forward_fill()), s3)
        return pl.when(started).then(pl.lit(2.0).pow(-e) * (cs + carry)), s4, False

    def lazy(self, lf, keep: list[str] = ()):
        for stage in self.stages:
            if stage:
                lf = lf.with_columns(stage)
        return lf.select([TIME, SYMBOL, *[f.name for f in self.features], *keep])


# --------------------------------------------------------------------------
# DuckDB


class SqlPlan:
    """A chain of SELECT *, <new columns> FROM <previous stage>; DuckDB does
    not nest window functions, so a window over a windowed value reads a
    column of an earlier stage."""

    ROWS = f"PARTITION BY {SYMBOL} ORDER BY __rn"

    def __init__(self, features: list[Feature]):
        self.stages: list[list[tuple[str, str]]] = []
        self.col_stage: dict[str, int] = {}
        self.tmp = 0
        self.memo: dict[str, tuple] = {}
        self.features = features
        for f in features:
            sql, need, _ = self.emit(f.tree)
            self.add(f.name, f"CAST({sql} AS DOUBLE)", need)

    def add(self, name: str, sql: str, stage: int) -> None:
        while len(self.stages) <= stage:
            self.stages.append([])
        self.stages[stage].append((name, sql))
        self.col_stage[name] = stage

    def helper(self, sql: str, stage: int) -> tuple[str, int]:
        self.tmp += 1
        name = f"__h{self.tmp}"
        self.add(name, sql, stage)
        return name, stage + 1

    def arg(self, node: ast.expr) -> tuple[str, int]:
        sql, need, win = self.emit(node)
        if win:
            return self.helper(sql, need)
        return sql, need

    def emit(self, node: ast.expr) -> tuple[str, int, bool]:
        if isinstance(node, ast.Constant):
            return repr(float(node.value)), 0, False
        if isinstance(node, ast.Name):
            if node.id in self.col_stage:
                return node.id, self.col_stage[node.id] + 1, False
            return ALIASES.get(node.id, node.id), 0, False
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            e, n, w = self.emit(node.operand)
            return f"(-{e})", n, w
        if isinstance(node, ast.BinOp):
            a, na, wa = self.emit(node.left)
            b, nb, wb = self.emit(node.right)
            if isinstance(node.op, ast.Pow):
                return f"POW({a}, {b})", max(na, nb), wa or wb
            op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}[type(node.op)]
            return f"({a} {op} {b})", max(na, nb), wa or wb
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            a, na, wa = self.emit(node.left)
            b, nb, wb = self.emit(node.comparators[0])
            op = {ast.Gt: ">", ast.Lt: "<", ast.GtE: ">=", ast.LtE: "<=", ast.Eq: "=",
                  ast.NotEq: "<>"}[type(node.ops[0])]
            return f"CAST({a} {op} {b} AS DOUBLE)", max(na, nb), wa or wb
        if isinstance(node, ast.Call):
            key = ast.dump(node)
            if key not in self.memo:  # a repeated call is computed once
                self.memo[key] = self.call(node)
            return self.memo[key]
        raise FormulaError(f"unsupported expression {ast.unparse(node)}")

    def frame(self, w) -> str:
        if isinstance(w, str):
            # (t - w, t]: integer microseconds, w - 1 preceding.
            return f"({self.ROWS_T} RANGE BETWEEN {duration_us(w) - 1} PRECEDING AND CURRENT ROW)"
        return f"({self.ROWS} ROWS BETWEEN {int(w) - 1} PRECEDING AND CURRENT ROW)"

    ROWS_T = f"PARTITION BY {SYMBOL} ORDER BY __t"

    def call(self, node: ast.Call) -> tuple[str, int, bool]:
        fn, args = _call(node)
        if fn in ELEMENTWISE:
            e, n, w = self.emit(args[0])
            f = {"log": "LN", "abs": "ABS", "sqrt": "SQRT", "exp": "EXP"}[fn]
            return f"{f}({e})", n, w
        if fn in ("lag", "diff"):
            x, n = self.arg(args[0])
            k = int(_const(args[1], "k")) if len(args) > 1 else 1
            lag = f"LAG({x}, {k}) OVER ({self.ROWS})"
            return (lag if fn == "lag" else f"({x} - {lag})"), n, True
        if fn in ROLLING:
            x, n = self.arg(args[0])
            w = _const(args[1], "window")
            ms = int(_const(args[2], "min_samples")) if len(args) > 2 else (1 if isinstance(w, str) else int(w))
            agg = {"mean": "AVG", "sum": "SUM", "min": "MIN", "max": "MAX", "std": "STDDEV_SAMP"}[ROLLING[fn]]
            fr = self.frame(w)
            if ms <= 1:  # an aggregate of no non-null value is already NULL
                return f"{agg}({x}) OVER {fr}", n, True
            return f"(CASE WHEN COUNT({x}) OVER {fr} >= {ms} THEN {agg}({x}) OVER {fr} END)", n, True
        if fn == "rolling_corr":
            x, nx = self.arg(args[0])
            y, ny = self.arg(args[1])
            w = _const(args[2], "window")
            ms = int(_const(args[3], "min_samples")) if len(args) > 3 else (1 if isinstance(w, str) else int(w))
            fr = self.frame(w)
            cnt = f"COUNT({x} + {y}) OVER {fr}"
            return f"(CASE WHEN {cnt} >= {max(2, ms)} THEN CORR({x}, {y}) OVER {fr} END)", max(nx, ny), True
        if fn == "decay_accum":
            x, n = self.arg(args[0])
            return self.decay(x, _const(args[1], "half-life"), n) + (False,)
        if fn == "ewm_mean":
            x, n = self.arg(args[0])
            h = _const(args[1], "half-life")
            if isinstance(h, str):
                # Polars' ewm_mean_by: y = (1 - a) x + a y_prev, a = 2^-(dt/h),
                # dt since the previous non-null row; unrolled, a decayed sum
                # of x (1 - a), the first value weighing 1.
                hu = duration_us(h)
                prev_t, n1 = self.helper(
                    f"MAX(CASE WHEN {x} IS NOT NULL THEN __t END) OVER ({self.ROWS} "
                    f"ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)", n)
                c = f"(CASE WHEN {prev_t} IS NULL THEN 1.0 ELSE 1.0 - POW(2.0, -({'__t'} - {prev_t}) / {float(hu)}) END)"
                wx, n2 = self.helper(f"({x} * {c})", n1)
                acc, n3 = self.decay(wx, h, n2)
                return f"(CASE WHEN {x} IS NOT NULL THEN {acc} END)", n3, False
            num, n1 = self.decay(x, h, n)
            den, n2 = self.decay(f"CASE WHEN {x} IS NULL THEN NULL ELSE 1.0 END", h, n)
            return f"(CASE WHEN {x} IS NOT NULL THEN {num} / {den} END)", max(n1, n2), False
        raise FormulaError(f"unknown function {fn}")

    def decay(self, x: str, h, stage: int) -> tuple[str, int]:
        """decay_accum(x, h) by block-rebased sums (module docstring)."""
        if isinstance(h, str):
            unit = float(duration_us(h))
            span = "(__t - __t0)"
        else:
            unit = float(h)
            span = "__pos"
        block_len = max(1, int(BLOCK_HALF_LIVES * unit))
        blk = f"({span} // {block_len})"
        e = f"(({span} - {blk} * {block_len}) / {unit})"
        b, s1 = self.helper(blk, stage)
        ex, _ = self.helper(e, stage)
        w, _ = self.helper(f"(COALESCE({x}, 0.0) * POW(2.0, {e}))", stage)
        started, _ = self.helper(f"(COUNT({x}) OVER ({self.ROWS} ROWS UNBOUNDED PRECEDING) > 0)", stage)
        part = f"PARTITION BY {SYMBOL}, {b}"
        cs, s2 = self.helper(f"SUM({w}) OVER ({part} ORDER BY __rn ROWS UNBOUNDED PRECEDING)", s1)
        bs, _ = self.helper(f"SUM({w}) OVER ({part})", s1)
        pb, s3 = self.helper(f"LAG({b}) OVER ({self.ROWS})", s2)
        pbs, _ = self.helper(f"LAG({bs}) OVER ({self.ROWS})", s2)
        carry0, s4 = self.helper(
            f"(CASE WHEN {pb} IS NULL THEN 0.0 WHEN {pb} <> {b} THEN "
            f"{pbs} * POW(2.0, -({b} - {pb}) * {block_len / unit}) END)", s3)
        carry, s5 = self.helper(f"MAX({carry0}) OVER ({part})", s4)
        return f"(CASE WHEN {started} THEN POW(2.0, -{ex}) * ({cs} + {carry}) END)", s5

    def sql(self, source: str) -> str:
        """One query; each stage keeps only the columns that later stages or
        the result read (a window operator materialises every column it is
        given)."""
        import re

        final = [TIME, SYMBOL] + [f.name for f in self.features]
        stages = [s for s in self.stages if s]

        def refs(sqls) -> set[str]:
            return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(sqls)))

        base = [f"epoch_us({TIME}) AS __t",
                f"ROW_NUMBER() OVER ({self.ROWS}) - 1 AS __pos",
                f"MIN(epoch_us({TIME})) OVER (PARTITION BY {SYMBOL}) AS __t0"]
        used = refs(sql for st in stages for _, sql in st) | {"__rn"}
        base = [b for b in base if b.rsplit(" ", 1)[1] in used]
        q = f"SELECT *, {', '.join(base)} FROM {source}" if base else f"SELECT * FROM {source}"
        have = ["__rn", "__t", "__pos", "__t0", *ALIASES.values(), TIME, SYMBOL]
        have = [c for c in have if c in used or c in final]
        for i, stage in enumerate(stages):
            later = refs(sql for st in stages[i + 1:] for _, sql in st) | set(final) | {"__rn"}
            keep = [c for c in have if c in later]
            new = [f"{sql} AS {name}" for name, sql in stage if name in later]
            q = f"SELECT {', '.join(keep + new)} FROM ({q}) AS s{i}"
            have = keep + [name for name, _ in stage if name in later]
        return f"SELECT {', '.join(final)} FROM ({q}) AS final ORDER BY __rn"
