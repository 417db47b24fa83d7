#!/usr/bin/env python3
"""One run of one Python-side engine of bench/, as its own process (so that
its peak RSS is its own): reads the input Parquet file, computes the feature
set, and prints one JSON line {"rows", "features", "load_s", "compute_s"}.

    python bench/engines.py polars --input trades.parquet --features testdata/features/demo.json
    python bench/engines.py polars-part --input ... --features ...   # partition_by + collect_all
    python bench/engines.py duckdb --input ... --features ... [--output out.parquet]
    python bench/engines.py flight --location grpc://127.0.0.1:PORT --input ... --features ...

compute_s times the computation alone, the input already in memory and the
result materialised as an Arrow table in memory; --output writes the result
after the timing (for the agreement check). With --whole (the Polars
counterparts of `fdag compute`, timed as whole processes by bench.py) the
input is read and the output written by Polars itself
(`pl.read_parquet`, `DataFrame.write_parquet(compression=...)`), with the
codec `fdag compute` uses, and --output is required.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from formulas import SYMBOL, TIME, PolarsPlan, SqlPlan, load_features  # noqa: E402


ROW = "__row"


def polars_over(df, features_path: str):
    """One lazy query, windows .over(symbol)."""
    plan = PolarsPlan(load_features(features_path))
    return plan.lazy(df.lazy()).collect()


def polars_partition(df, features_path: str):
    """One lazy query per symbol (df.partition_by(symbol)), run together by
    pl.collect_all, concatenated and put back in input order."""
    import polars as pl

    plan = PolarsPlan(load_features(features_path), per_symbol=True)
    parts = df.with_row_index(ROW).partition_by(SYMBOL, maintain_order=True)
    queries = [plan.lazy(p.lazy(), keep=[ROW]) for p in parts]
    return pl.concat(pl.collect_all(queries)).sort(ROW).drop(ROW)


POLARS_QUERIES = {"polars": polars_over, "polars-part": polars_partition}


def run_polars(table: pa.Table, features_path: str, query) -> tuple[pa.Table, float]:
    import polars as pl

    df = pl.from_arrow(table)
    t0 = time.perf_counter()
    result = query(df, features_path).to_arrow()
    return result, time.perf_counter() - t0


def run_polars_whole(input_path: str, features_path: str, query, output: str, compression: str) -> dict:
    """The whole of what `fdag compute` does, in Polars: read, compute, write."""
    import polars as pl

    t0 = time.perf_counter()
    df = pl.read_parquet(input_path)
    t1 = time.perf_counter()
    out = query(df, features_path)
    t2 = time.perf_counter()
    out.write_parquet(output, compression=compression)
    t3 = time.perf_counter()
    return {"rows": df.height, "features": out.width - 2, "load_s": t1 - t0, "compute_s": t2 - t1,
            "write_s": t3 - t2}


def run_duckdb(table: pa.Table, features_path: str, threads: int | None) -> tuple[pa.Table, float]:
    import duckdb
    import numpy as np

    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = true")
    t0 = time.perf_counter()
    src = table.append_column("__rn", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    con.register("trades", src)
    plan = SqlPlan(load_features(features_path))
    result = con.sql(plan.sql("trades")).to_arrow_table()
    return result, time.perf_counter() - t0


def run_flight(table: pa.Table, features_path: str, location: str) -> tuple[pa.Table, float]:
    from fdag import FeatureClient

    specs = json.loads(Path(features_path).read_text())
    specs = specs["features"] if isinstance(specs, dict) else specs
    client = FeatureClient(location)
    t0 = time.perf_counter()
    # The demo trades are in time order, so each symbol's rows already are:
    # no client-side sort is needed (sort=False streams the batches).
    res = client.compute(table, specs, sort=False)
    elapsed = time.perf_counter() - t0
    if res.errors:
        raise SystemExit(f"flight: features failed: {res.errors}")
    return res.table, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("engine", choices=[*POLARS_QUERIES, "duckdb", "flight"])
    ap.add_argument("--input", required=True)
    ap.add_argument("--features", required=True)
    ap.add_argument("--output")
    ap.add_argument("--location", help="flight: grpc://HOST:PORT of a running fdag-flight")
    ap.add_argument("--threads", type=int, help="duckdb: SET threads")
    ap.add_argument("--whole", action="store_true", help="polars: read and write the files in Polars too")
    ap.add_argument("--compression", default="snappy", help="--whole: Parquet codec of the output")
    a = ap.parse_args()
    if a.whole:
        if a.engine not in POLARS_QUERIES or not a.output:
            ap.error("--whole is for the polars engines and needs --output")
        print(json.dumps(run_polars_whole(a.input, a.features, POLARS_QUERIES[a.engine], a.output, a.compression)))
        return
    t0 = time.perf_counter()
    table = pq.read_table(a.input)
    load = time.perf_counter() - t0
    if a.engine in POLARS_QUERIES:
        out, elapsed = run_polars(table, a.features, POLARS_QUERIES[a.engine])
    elif a.engine == "duckdb":
        out, elapsed = run_duckdb(table, a.features, a.threads)
    else:
        if not a.location:
            ap.error("flight needs --location")
        out, elapsed = run_flight(table, a.features, a.location)
    if out.num_rows != table.num_rows:
        raise SystemExit(f"{a.engine}: {out.num_rows} output rows for {table.num_rows} input rows")
    if a.output:
        pq.write_table(out, a.output)
    print(json.dumps({"rows": table.num_rows, "features": out.num_columns - 2,
                      "load_s": load, "compute_s": elapsed}))


if __name__ == "__main__":
    main()
