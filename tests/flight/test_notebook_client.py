"""The client's notebook tooling against the real fdag-flight: the %%fdag
cell magic in a real IPython shell, progress on compute / fetch /
read_table, ComputeResult.plot with matplotlib, Explanation as SVG."""

from __future__ import annotations

import shutil

import matplotlib
import pyarrow as pa
import pytest

import fdag
from fdag.magic import FdagMagicError, parse_cell
from test_warehouse import FEATURES, SYMBOLS, make_trades

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def wh(start_server, tmp_path_factory):
    server = start_server("--project", str(tmp_path_factory.mktemp("nbproject")), name="notebook")
    with fdag.FeatureClient(server.location(), timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def trades(wh) -> pa.Table:
    t = make_trades(seed=5)
    wh.ingest(t)
    return t


@pytest.fixture
def shell(wh, trades):
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "fdag")
    ip.user_ns.update({"c": wh, "trades": trades, "other": trades.slice(0, 10)})
    yield ip
    for k in ("c", "trades", "other", "feats", "_fdag"):
        ip.user_ns.pop(k, None)


CELL = """
# features of the cell: comments, blank lines, a continued formula
ret_1 = log(close) - log(lag(close, 1))

vol = rolling_std(ret_1, '5m')   # trailing comment
z   = (ret_1 - rolling_mean(ret_1, 100))
      / rolling_std(ret_1, 100)
bad = rolling_mean(close)
"""


def test_magic_computes_and_shows_statuses(shell, wh, trades):
    out = shell.run_cell_magic("fdag", "--client c --data trades --out feats", CELL)
    res = shell.user_ns["feats"]
    assert out is res
    assert isinstance(res, fdag.ComputeResult) and res.num_rows == trades.num_rows
    assert res.features == ["ret_1", "vol", "z"]
    assert "bad: 1:1: rolling_mean expects 2 or 3 arguments, got 1" in res.errors["bad"]
    want = wh.compute(trades, {s["name"]: s["formula"] for s in parse_cell(CELL)})
    assert res.table.equals(want.table)
    html = res._repr_html_()
    assert "3 features ok" in html and "1 failed" in html and "rolling_mean expects 2 or 3 arguments" in html


def test_magic_usage_errors(shell):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=r"several frames \(other, trades\): say which with --data VAR"):
        shell.run_cell_magic("fdag", "--client c", "a = log(close)")
    with pytest.raises(UsageError, match="--data nope: no such variable"):
        shell.run_cell_magic("fdag", "--client c --data nope", "a = log(close)")
    with pytest.raises(UsageError, match="--client trades: a Table, not an fdag.FeatureClient"):
        shell.run_cell_magic("fdag", "--client trades --data trades", "a = log(close)")
    with pytest.raises(UsageError, match="line 2: expected 'name = formula', got 'log"):
        shell.run_cell_magic("fdag", "--client c --data trades", "a = 1\nlog(close)")
    with pytest.raises(UsageError, match="unrecognized arguments: --bogus"):
        shell.run_cell_magic("fdag", "--bogus", "a = 1")


def test_parse_cell_rules():
    assert parse_cell("up = close == lag(close)  # ties") == [{"name": "up", "formula": "close == lag(close)"}]
    assert parse_cell("d = rolling_sum(x, '5m')") == [{"name": "d", "formula": "rolling_sum(x, '5m')"}]
    for body, msg in [("", "defines no feature"), ("a == b", "line 1: expected"), ("  x", "continues a formula"),
                      ("a = 1\na = 2", "already defined on line 1"), ("2a = x", "not a feature name")]:
        with pytest.raises(FdagMagicError, match=msg):
            parse_cell(body)


def test_progress_counts_compute_rows_fetch_endpoints_and_read_rows(wh, trades):
    calls = []
    res = wh.compute(trades, {"r": "log(close)"}, chunk_rows=5000, progress=lambda d, t: calls.append((d, t)))
    assert res.ok and calls and calls[-1] == (trades.num_rows, trades.num_rows)
    assert len(calls) >= trades.num_rows // 5000  # one step per answered batch

    calls.clear()
    got = wh.fetch(SYMBOLS, "2024-01-02", "2024-01-05", FEATURES, shard="1d", progress=lambda d, t: calls.append((d, t)))
    n_endpoints = got.server_metadata["endpoints"]
    assert n_endpoints >= 4
    assert sorted(calls) == [(i, n_endpoints) for i in range(1, n_endpoints + 1)]

    calls.clear()
    table = wh.read_table("cdm_trade_enriched", progress=lambda d, t: calls.append((d, t)))
    assert table.num_rows == trades.num_rows
    assert calls[-1][0] == trades.num_rows


def test_progress_bar_text_on_fetch(wh, trades, capsys):
    wh.fetch(SYMBOLS, "2024-01-02", "2024-01-04", {"r": "log(close)"}, shard="1d", progress=True)
    err = capsys.readouterr().err
    assert "fetch" in err and "endpoint" in err and "4/4" in err


def test_plot_price_and_two_features(wh, trades):
    res = wh.compute(trades, FEATURES)
    ax = res.plot(["ma_100", "hi_500"], price=trades["trade_price"], symbol="AAA")
    assert [l.get_label() for l in ax.get_lines()] == ["ma_100", "hi_500"]
    left = ax.figure.axes[0]
    assert [l.get_label() for l in left.get_lines()] == ["price"]  # a pyarrow column has no name
    n_aaa = sum(1 for s in trades["symbol"].to_pylist() if s == "AAA")
    assert len(left.get_lines()[0].get_xdata()) == n_aaa

    ax = res.plot("ma_100", price=trades.to_pandas()["trade_price"], symbol="BBB", title="BBB")
    assert [l.get_label() for l in ax.figure.axes[0].get_lines()] == ["trade_price"]  # a Series' name
    assert ax.figure.axes[0].get_title() == "BBB"

    ax = res.plot(["ma_100"], price="ma_100", symbol="AAA", secondary_axis=False)  # one axis for both
    assert len(ax.figure.axes) == 1 and len(ax.get_lines()) == 2

    with pytest.raises(ValueError, match=r"holds 2 symbols \(AAA, BBB\); pass symbol="):
        res.plot(["ma_100"])
    with pytest.raises(ValueError, match="no feature 'nope' in the result"):
        res.plot(["nope"], symbol="AAA")
    bad = wh.compute(trades, {"ok": "log(close)", "bad": "lag(close, 1, 2, 3)"})
    with pytest.raises(ValueError, match="feature 'bad' failed: bad: "):
        bad.plot(["bad"], symbol="AAA")
    with pytest.raises(ValueError, match="price has 3 values for 24000 rows"):
        res.plot(["ma_100"], price=[1.0, 2.0, 3.0], symbol="AAA")


def test_explanation_svg_or_text(wh):
    ex = wh.explain({"ret_1": "log(close) - log(lag(close, 1))", "vol": "rolling_std(ret_1, 100)"})
    assert ex.dot.startswith("digraph")
    svg = ex._repr_svg_()
    if shutil.which("dot"):
        assert svg is not None and svg.startswith("<svg") and "rolling_std" in svg
    else:
        assert svg is None  # the notebook falls back to the text
    assert "rolling_std(n" in ex._repr_html_()
