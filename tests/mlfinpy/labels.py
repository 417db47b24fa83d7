"""mlfinpy's labels over one price series, for labels/mlfinpy_test.go.

Usage: python labels.py IN.csv OUT_DIR WINDOW MIN_LEN STEP THRESHOLD
IN: time (microseconds), close. Writes OUT_DIR/fixed.csv (label of
fixed_time_horizon(lag=True, threshold)) and OUT_DIR/trend.csv (t1 in
microseconds, t_value, ret, bin of trend_scanning_labels).
"""

import sys

import numpy as np
import pandas as pd
from mlfinpy.labeling import fixed_time_horizon, trend_scanning_labels


def main() -> None:
    src, out, window, min_len, step, threshold = sys.argv[1:7]
    raw = pd.read_csv(src, dtype={"time": "int64", "close": "float64"})
    prices = pd.Series(raw["close"].values, index=pd.to_datetime(raw["time"], unit="us"))
    fixed = fixed_time_horizon(prices, threshold=float(threshold), lag=True)
    pd.DataFrame({"label": fixed.values}).to_csv(f"{out}/fixed.csv", index=False, float_format="%.17g")
    with np.errstate(all="ignore"):
        trend = trend_scanning_labels(prices, look_forward_window=int(window), min_sample_length=int(min_len), step=int(step))
    t1 = pd.to_datetime(trend["t1"])
    pd.DataFrame({
        "t1": np.where(t1.isna(), -1, t1.astype("int64") // 1000),
        "t_value": trend["t_value"].astype(float).values,
        "ret": trend["ret"].astype(float).values,
        "bin": trend["bin"].astype(float).values,
    }).to_csv(f"{out}/trend.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
