"""The `tsrnn` command line: subprocess runs of every command, and one-line errors with status 2."""

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tsrnn.cli import default_season, main

SMALL = ["--max-iter", "5", "--hidden-size", "4", "--lags", "10"]


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tsrnn", *args], capture_output=True, text=True,
                          check=False,
                          timeout=600, cwd=cwd)


def test_forecast_writes_table_plot_and_model_then_predict_reuses_it(tmp_path):
    res = _run("forecast", "--dataset", "weather", "--target", "temp_max", "--horizon", "3",
               *SMALL, "-q", "--plot", "f.png", "--save", "m.tsrnn", "--output", "f.csv",
               cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""                       # quiet and piped: no progress bar, no warnings
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["forecast", "lower", "upper"]
    assert [ln.split()[0] for ln in lines[2:5]] == ["2016-01-01", "2016-01-02", "2016-01-03"]
    assert "MASE" in res.stdout and "seasonal naive (m=7)" in res.stdout
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    table = pd.read_csv(tmp_path / "f.csv", index_col=0)
    assert list(table.columns) == ["forecast", "lower", "upper"] and len(table) == 3

    again = _run("predict", "--model", "m.tsrnn", "--dataset", "weather", "-q", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[:5] == lines[:5]   # same forecast, no refit


def _csv(tmp_path, n=160, future=0):
    idx = pd.date_range("2023-01-01", periods=n + future, freq="D")
    t = np.arange(n + future)
    df = pd.DataFrame({"day": idx.strftime("%Y-%m-%d"),
                       "load": np.where(t < n, np.sin(t / 3) + 0.01 * t, np.nan),
                       "temp": np.cos(t / 5), "holiday": (t % 7 == 0).astype(float)})
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return path


def test_backtest_on_a_csv_with_covariates(tmp_path, capsys):
    path = _csv(tmp_path, future=3)
    code = main(["backtest", str(path), "--target", "load", "--horizon", "3", *SMALL,
                 "--covariates", "temp", "--future-covariates", "holiday", "--initial", "0.8",
                 "-q", "--output", str(tmp_path / "bt.csv")])
    out = capsys.readouterr().out
    assert code == 0
    assert "forecaster" in out and "seasonal_naive" in out and "mase" in out
    bt = pd.read_csv(tmp_path / "bt.csv")
    assert {"origin", "time", "forecast", "actual"} <= set(bt.columns)


def test_forecast_uses_future_covariate_rows(tmp_path, capsys):
    path = _csv(tmp_path, future=3)
    assert main(["forecast", str(path), "--target", "load", "--horizon", "3", *SMALL,
                 "--future-covariates", "holiday", "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in out[2:5]] == ["2023-06-10", "2023-06-11", "2023-06-12"]


def test_datasets_and_help():
    res = _run("datasets")
    assert res.returncode == 0
    for name in ("weather", "co2", "sea_temperature", "stocks"):
        assert f"{name}:" in res.stdout
    assert "temp_max" in res.stdout and "1958" in res.stdout
    for cmd in ([], ["forecast"], ["backtest"], ["predict"], ["datasets"]):
        res = _run(*cmd, "--help")
        assert res.returncode == 0 and "usage: tsrnn" in res.stdout


@pytest.mark.parametrize("argv, message", [
    (["forecast", "nope.csv", "--target", "x"], "no such file: nope.csv"),
    (["forecast", "--dataset", "weather", "--target", "nope"], "unknown column(s) 'nope'"),
    (["forecast", "--dataset", "weather", "--target", "weather"], "column 'weather' is not numeric"),
    (["forecast", "--dataset", "weather", "--target", "temp_max", "--horizon", "0"],
     "argument --horizon: '0' must be >= 1"),
    (["forecast", "--dataset", "mars", "--target", "x"], "argument --dataset: invalid choice"),
    (["forecast", "--dataset", "weather", "--target", "temp_max", "--lags", "many"],
     "argument --lags: 'many' is not an integer"),
    (["forecast", "--target", "x"], "give a CSV file or --dataset NAME"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["predict", "--model", "missing.tsrnn", "--dataset", "weather"], "Cannot read model file"),
])
def test_errors_are_one_line_with_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tsrnn: error: ") and message in err


def test_unparseable_dates_and_bad_model_file(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,x\n2024-01-01,1\nyesterday,2\n")
    assert main(["forecast", str(bad), "--target", "x"]) == 2
    assert "unparseable date 'yesterday' in column 'date' (data row 2)" in capsys.readouterr().err
    model = tmp_path / "m.tsrnn"
    model.write_text("not a model")
    assert main(["predict", "--model", str(model), "--dataset", "weather"]) == 2
    assert "not a readable tsrnn model file" in capsys.readouterr().err


def test_errors_from_a_subprocess_have_no_traceback():
    res = _run("forecast", "--dataset", "weather", "--target", "nope")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_default_season():
    assert default_season(pd.date_range("2024", periods=10, freq="D")) == 7
    assert default_season(pd.date_range("2024", periods=10, freq="B")) == 5
    assert default_season(pd.date_range("2024", periods=10, freq="30min")) == 48
    assert default_season(pd.date_range("2024", periods=10, freq="W-SAT")) == 52
    assert default_season(pd.date_range("2024", periods=10, freq="MS")) == 12
    assert default_season(pd.RangeIndex(10)) == 1


def test_progress_bar_only_on_a_terminal_without_quiet(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    argv = ["forecast", "--dataset", "weather", "--target", "temp_max", "--horizon", "2", *SMALL]
    for extra, shown in (([], True), (["--quiet"], False)):
        err = Terminal()
        monkeypatch.setattr(sys, "stderr", err)
        assert main(argv + extra, out=io.StringIO()) == 0
        assert ("tsrnn fit:" in err.getvalue()) is shown


@pytest.mark.parametrize("content, message", [
    ("date,y\n", "has no data rows"),
    ("date,y\n2024-01-01,1\n,2\n2024-01-03,3\n", "missing time value in column 'date' (data row 2)"),
    ("t,y\n0.5,1\n1.5,2\n", "holds non-integer numbers"),
])
def test_bad_csv_files(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["forecast", str(path), "--target", "y"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_pandas_written_csv_and_integer_time_column(tmp_path, capsys):
    df = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=80, freq="D"),
                       "y": np.sin(np.arange(80) / 3)})
    df.to_csv(tmp_path / "a.csv")                          # with an "Unnamed: 0" index column
    assert main(["forecast", str(tmp_path / "a.csv"), "--target", "y", "--horizon", "2", *SMALL,
                 "-q", "--coverage", "0"]) == 0
    assert capsys.readouterr().out.splitlines()[2].startswith("2024-03-21")
    steps = pd.DataFrame({"t": np.arange(80) * 10, "y": np.sin(np.arange(80) / 3)})
    steps.to_csv(tmp_path / "b.csv", index=False)
    assert main(["forecast", str(tmp_path / "b.csv"), "--target", "y", "--horizon", "2", *SMALL,
                 "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in out[2:4]] == ["800", "810"]


@pytest.mark.parametrize("argv, message", [
    (["--initial", "inf"], "argument --initial: 'inf' must be a fraction"),
    (["--time-col", "date"], "--time-col applies to a CSV file"),
    (["--plot", "out.xyz"], "unknown image format 'xyz'"),
    (["--output", "no/such/dir/f.csv"], "no directory"),
])
def test_bad_options_fail_before_fitting(argv, message, capsys):
    cmd = "backtest" if "--initial" in argv else "forecast"
    assert main([cmd, "--dataset", "co2", "--target", "co2", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_closed_pipe_still_writes_outputs(tmp_path):
    cmd = (f"{sys.executable} -m tsrnn forecast --dataset weather --target temp_max --horizon 3 "
           f"{' '.join(SMALL)} -q --save m.tsrnn | head -1")
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=tmp_path,
                         check=False, timeout=600)
    assert res.stdout.split() == ["forecast", "lower", "upper"]
    assert "Error" not in res.stderr and (tmp_path / "m.tsrnn").exists()


def test_lags_default_to_auto(capsys, tmp_path):
    """Without --lags the forecaster reads four horizons (at least a season)."""
    assert main(["forecast", "--dataset", "weather", "--target", "temp_max", "--horizon", "3",
                 "--max-iter", "2", "--hidden-size", "4", "-q", "--save",
                 str(tmp_path / "m.tsrnn")]) == 0
    from tsrnn.persistence import load
    assert load(tmp_path / "m.tsrnn").lags_ == 24
