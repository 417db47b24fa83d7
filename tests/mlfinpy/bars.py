"""mlfinpy's bars over one day of trades, for bars/mlfinpy_test.go.

Usage: python bars.py JOB.json
JOB: {"days": [{"trades": CSV with date_time (microseconds since the
epoch, UTC), price, volume; "out": directory}], "kinds": [{"name": NAME,
"fn": mlfinpy function, "args": {...}}]}. One process for all days, since
importing mlfinpy (numba) takes seconds. Writes OUT/NAME.csv per day and
kind with the bars' date_time (microseconds; time bars: the interval's end), tick_num, open,
high, low, close, volume, cum_buy_volume, cum_ticks, cum_dollar_value.
"""

import json
import sys

import pandas as pd
from mlfinpy import data_structure as ds


def main() -> None:
    with open(sys.argv[1]) as f:
        job = json.load(f)
    for d in job["days"]:
        one_day(d["trades"], d["out"], job["kinds"])


def one_day(trades: str, out_dir: str, kinds: list) -> None:
    raw = pd.read_csv(trades, dtype={"date_time": "int64", "price": "float64", "volume": "float64"})
    df = pd.DataFrame({
        "date_time": pd.to_datetime(raw["date_time"], unit="us"),
        "price": raw["price"],
        "volume": raw["volume"],
    })
    for kind in kinds:
        fn = getattr(ds, kind["fn"])
        out = fn(df, verbose=False, **kind["args"])
        if isinstance(out, tuple):  # information-driven bars return (bars, thresholds)
            out = out[0]
        if out is None:
            out = pd.DataFrame(columns=["date_time", "tick_num", "open", "high", "low", "close", "volume",
                                        "cum_buy_volume", "cum_ticks", "cum_dollar_value"])
        elif kind["fn"] == "get_time_bars":
            out["date_time"] = out["date_time"].astype("int64") * 1_000_000  # seconds
        else:
            out["date_time"] = pd.to_datetime(out["date_time"]).astype("int64") // 1000
        out.to_csv(f'{out_dir}/{kind["name"]}.csv', index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
