"""Regenerates polars_golden.json.gz, the Polars reference outputs the kernel
tests compare against (bit for bit for ewm, to a tolerance for rolling).

    python gen_polars_golden.py | gzip -9 > polars_golden.json.gz

Values travel as the hex of their IEEE bits so nothing is lost in JSON.
Duration cases use strictly increasing times: Polars' rolling_*_by includes
later rows with the same timestamp and fdag deliberately does not.
"""
import json
import math
import random
import struct

import polars as pl


def enc(v):
    if v is None:
        return None
    return struct.pack(">d", v).hex()


def series(rng, n, kind):
    xs = []
    p = 1e5
    for i in range(n):
        r = rng.random()
        if kind == "price":
            p += rng.choice([-1, 1]) * 1e-6 * rng.randint(0, 3)
            v = p
        elif kind == "walk":
            p += rng.gauss(0, 1)
            v = p
        else:
            v = rng.gauss(0, 10)
        if r < 0.15:
            v = None
        elif kind == "special" and r < 0.18:
            v = rng.choice([math.nan, math.inf, -math.inf])
        xs.append(v)
    return xs


def times(rng, n):
    t, out = 1_700_000_000_000_000_000, []
    for _ in range(n):
        t += rng.randint(1, 3_000_000_000)
        out.append(t)
    return out


def main():
    rng = random.Random(42)
    cases, inputs = [], {}
    n = 1000
    for kind in ["gauss", "price", "walk", "special"]:
        x = series(rng, n, kind)
        y = [None if v is None else v * 0.5 + rng.gauss(0, 1) for v in series(rng, n, "gauss")]
        t = times(rng, n)
        df = pl.DataFrame({"x": x, "y": y, "t": t}, schema={"x": pl.Float64, "y": pl.Float64, "t": pl.Int64})
        df = df.with_columns(pl.col("t").cast(pl.Datetime("ns")))
        inputs[kind] = {"x": [enc(v) for v in x], "y": [enc(v) for v in y], "t": t}

        def add(name, expr, **params):
            out = df.select(expr.alias("o"))["o"].to_list()
            cases.append({"name": f"{kind}/{name}", "input": kind, "op": name.split("/")[0],
                          "params": params, "want": [enc(v) for v in out]})

        for h in [1.0, 3.0, 0.7, 17.3]:
            add(f"ewm/{h}", pl.col("x").ewm_mean(half_life=h, adjust=True, min_samples=1, ignore_nulls=False), h=h)
        for hs in ["1s", "7s", "250ms"]:
            ns = {"1s": 10**9, "7s": 7 * 10**9, "250ms": 250 * 10**6}[hs]
            add(f"ewm_by/{hs}", pl.col("x").ewm_mean_by("t", half_life=hs), h=ns)
        for w in [1, 3, 20]:
            for agg in ["sum", "mean", "std", "min", "max"]:
                e = getattr(pl.col("x"), f"rolling_{agg}")(window_size=w, min_samples=max(1, w - 2))
                add(f"{agg}/{w}", e, rows=w, min_samples=max(1, w - 2))
        for ds in ["5s", "30s"]:
            ns = {"5s": 5 * 10**9, "30s": 30 * 10**9}[ds]
            for agg in ["sum", "mean", "std", "min", "max"]:
                e = getattr(pl.col("x"), f"rolling_{agg}_by")("t", window_size=ds, closed="right")
                add(f"{agg}/{ds}", e, dur=ns, min_samples=1)
        for w in [5, 20]:
            add(f"corr/{w}", pl.rolling_corr(pl.col("x"), pl.col("y"), window_size=w, min_samples=w), rows=w, min_samples=w)
        add("log/", pl.col("x").log())
        add("exp/", (pl.col("x") / 10).exp())
        add("pow/", pl.col("x").abs() ** 1.37)
    json.dump({"polars": pl.__version__, "inputs": inputs, "cases": cases}, __import__("sys").stdout)


main()
