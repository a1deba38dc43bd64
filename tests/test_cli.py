"""The `tsrnn` command line: subprocess runs of every command, and one-line errors with status 2."""

import io
import os
import pathlib
import shutil
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import tsrnn
import tsrnn._cli_read as cli_read
import tsrnn.cli as cli
from tsrnn._cli_base import UsageError
from tsrnn._cli_model import default_season
from tsrnn.cli import main

SMALL = ["--max-iter", "5", "--hidden-size", "4", "--lags", "10"]
WEATHER = ["--dataset", "weather", "--target", "temp_max", "--horizon", "3"]
# subprocesses run this checkout's tsrnn, not an installed copy
ROOT = pathlib.Path(tsrnn.__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tsrnn", *args], capture_output=True, text=True,
                          check=False, env=ENV, timeout=600, cwd=cwd)


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
     "argument --horizon: '0' must be in 1..10000000"),
    (["forecast", "--dataset", "mars", "--target", "x"], "argument --dataset: invalid choice"),
    (["forecast", "--dataset", "weather", "--target", "temp_max", "--lags", "many"],
     "argument --lags: 'many' is not an integer"),
    (["forecast", "--target", "x"], "give a CSV or Parquet file, - for stdin, or --dataset"),
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
    ("t,y\n1,1\n2.5,2\n", "holds non-integer numbers (2.5 in data row 2); give dates"),
    ("t,y\n1,1\ninf,2\n", "holds non-integer numbers (inf in data row 2)"),
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


@pytest.mark.parametrize("start", [1871.0, 43831.0])        # years; Excel serial dates
def test_integer_valued_float_time_column_is_steps(tmp_path, start):
    path = tmp_path / "a.csv"
    pd.DataFrame({"t": start + np.arange(5.0), "y": np.arange(5.0)}).to_csv(path, index=False)
    assert path.read_text().splitlines()[1].startswith(f"{start},")    # written as floats
    df = cli_read.read_table(str(path))
    assert df.index.dtype == np.int64 and list(df.index) == list(range(int(start), int(start) + 5))


@pytest.mark.parametrize("argv, message", [
    (["--initial", "inf"], "argument --initial: 'inf' must be a fraction"),
    (["--time-col", "date"], "--time-col applies to a data file"),
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
                         check=False, env=ENV, timeout=600)
    assert res.stdout.split() == ["forecast", "lower", "upper"]
    assert "Error" not in res.stderr and (tmp_path / "m.tsrnn").exists()


def test_lags_default_to_auto(capsys, tmp_path):
    """Without --lags the forecaster reads four horizons (at least a season)."""
    assert main(["forecast", "--dataset", "weather", "--target", "temp_max", "--horizon", "3",
                 "--max-iter", "2", "--hidden-size", "4", "-q", "--save",
                 str(tmp_path / "m.tsrnn")]) == 0
    from tsrnn.persistence import load
    assert load(tmp_path / "m.tsrnn").lags_ == 24


# ------------------------------------------------------------ interrupts
def _files(folder):
    return sorted(p.name for p in pathlib.Path(folder).iterdir())


def _default_sigint():
    # a process started in the background may inherit SIGINT ignored, and Python then
    # leaves it ignored; the CLI's handling needs the default
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("delay", [0.3, 4.0], ids=["start-up", "fit"])
def test_ctrl_c_in_a_subprocess_stops_with_status_130(tmp_path, delay):
    """SIGINT during the imports (at 0.3 s) and during the fit (at 4 s: start-up takes
    about 2 s warm; the run would take over 30 s): one line, status 130, no file."""
    argv = ["forecast", "--dataset", "sea_temperature", "--target", "temperature", "--horizon",
            "3", "--max-iter", "1000", "--hidden-size", "32", "--lags", "48", "-q",
            "--output", "f.csv", "--save", "m.tsrnn", "--plot", "f.png"]
    proc = subprocess.Popen([sys.executable, "-m", "tsrnn", *argv], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    time.sleep(delay)
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err, out) == (130, "tsrnn: interrupted\n", "")
    assert time.monotonic() - sent < 15        # stopped, not run to the end
    assert _files(tmp_path) == []              # no output, no temporary file


def test_import_is_light():
    """``import tsrnn.cli`` (what the console script does before main()) loads no NumPy,
    pandas or argparse, so that a Ctrl-C during start-up lands in main()'s handler."""
    code = "import sys, tsrnn.cli; print(sorted({'numpy', 'pandas', 'argparse'} & set(sys.modules)))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                         check=True, timeout=60)
    assert res.stdout.strip() == "[]"


def _sigint():
    os.kill(os.getpid(), signal.SIGINT)


def _main(argv):
    """main(argv), failing the test (not ending the session) if KeyboardInterrupt escapes."""
    try:
        return main(argv)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped main()")


def _interrupting(function, when=lambda: True):
    """``function``, sending this process SIGINT first when ``when()``."""
    def wrapper(*args, **kwargs):
        if when():
            _sigint()
        return function(*args, **kwargs)
    return wrapper


def _interrupt_in(stage, monkeypatch):
    if stage == "parse":
        import tsrnn._cli_parser as parser
        monkeypatch.setattr(parser, "build_parser", _interrupting(parser.build_parser))
    elif stage == "load":
        monkeypatch.setattr(cli_read, "load_dataset", _interrupting(cli_read.load_dataset))
    elif stage == "fit":           # in the third epoch
        from tsrnn._engine.training import Trainer
        epochs = iter(range(100))
        monkeypatch.setattr(Trainer, "_run_epoch", _interrupting(Trainer._run_epoch,
                                                                 lambda: next(epochs) == 2))
    elif stage == "backtest":
        import tsrnn.model_selection
        monkeypatch.setattr(tsrnn.model_selection, "backtest",
                            _interrupting(tsrnn.model_selection.backtest))
    elif stage == "write":         # once the table is written, while the model file is
        import tsrnn.persistence
        monkeypatch.setattr(tsrnn.persistence, "save", _interrupting(tsrnn.persistence.save))


@pytest.mark.parametrize("stage", ["parse", "load", "fit", "backtest", "write"])
def test_ctrl_c_at_each_stage_writes_nothing(stage, tmp_path, monkeypatch, capsys):
    """The first Ctrl-C, wherever it comes, ends the run with status 130 and one line; the
    previous outputs are kept whole and no new or temporary file is left."""
    (tmp_path / "f.csv").write_text("previous\n")
    _interrupt_in(stage, monkeypatch)
    out = tmp_path / "f.csv", tmp_path / "m.tsrnn", tmp_path / "f.png"
    code = _main(["forecast", *WEATHER, *SMALL, "-q", "--output", str(out[0]), "--save",
                  str(out[1]), "--plot", str(out[2])])
    captured = capsys.readouterr()
    assert (code, captured.err, captured.out) == (130, "tsrnn: interrupted\n", "")
    assert _files(tmp_path) == ["f.csv"] and out[0].read_text() == "previous\n"


def test_an_error_after_ctrl_c_is_reported_as_the_interrupt(monkeypatch, capsys):
    """A step cut short by Ctrl-C may fail in its own way; what the user did was interrupt."""
    def load(name):
        _sigint()
        raise ValueError("too little data")

    monkeypatch.setattr(cli_read, "load_dataset", load)
    assert _main(["forecast", *WEATHER, "-q"]) == 130
    assert capsys.readouterr().err == "tsrnn: interrupted\n"


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_a_failing_output_leaves_the_others_as_they_were(error, tmp_path, monkeypatch, capsys):
    """A forced Ctrl-C or a full disk while the model file is written, after the table:
    the table is not replaced either, and the half-written model file is removed."""
    import tsrnn.persistence

    def save(model, path):
        pathlib.Path(path).write_bytes(b"PK\x03\x04 half")
        raise error("No space left on device")

    (tmp_path / "f.csv").write_text("previous\n")
    monkeypatch.setattr(tsrnn.persistence, "save", save)
    code = _main(["forecast", *WEATHER, *SMALL, "-q", "--output", str(tmp_path / "f.csv"),
                  "--save", str(tmp_path / "m.tsrnn")])
    err = capsys.readouterr().err
    if error is KeyboardInterrupt:
        assert (code, err) == (130, "tsrnn: interrupted\n")
    else:
        assert (code, err) == (2, "tsrnn: error: No space left on device\n")
    assert _files(tmp_path) == ["f.csv"] and (tmp_path / "f.csv").read_text() == "previous\n"


def test_outputs_keep_their_mode_and_devices_are_written_to(tmp_path, capsys):
    (tmp_path / "f.csv").write_text("previous\n")
    os.chmod(tmp_path / "f.csv", 0o640)
    assert main(["forecast", *WEATHER, *SMALL, "-q", "--output", str(tmp_path / "f.csv"),
                 "--save", os.devnull]) == 0
    assert "wrote " + os.devnull in capsys.readouterr().out
    assert stat.S_IMODE(os.stat(tmp_path / "f.csv").st_mode) == 0o640
    assert (tmp_path / "f.csv").read_text().startswith("date,forecast,lower,upper")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode) and _files(tmp_path) == ["f.csv"]


# ------------------------------------------------------ output paths
@pytest.fixture
def read_only():
    """Make a file or directory unwritable, also for root (``chattr +i``), then undo it."""
    made = []

    def make(path):
        path.chmod(0o555 if path.is_dir() else 0o444)
        if os.geteuid() == 0:
            if not shutil.which("chattr") or subprocess.run(
                    ["chattr", "+i", str(path)], capture_output=True, check=False).returncode:
                pytest.skip("root, and chattr +i is not available")
            made.append(path)
        return path
    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


@pytest.mark.parametrize("option", ["--output", "--save", "--plot"])
@pytest.mark.parametrize("case", ["directory", "no directory", "read-only directory",
                                  "read-only file", "same file"])
def test_output_paths_are_checked_before_any_work(option, case, tmp_path, read_only,
                                                  monkeypatch, capsys):
    name = "out.png" if option == "--plot" else "out.csv"
    path, message = {
        "directory": (tmp_path, "it is a directory"),
        "no directory": (tmp_path / "missing" / name, f"no directory {tmp_path / 'missing'}"),
        "read-only directory": (tmp_path / "ro" / name, "the directory"),
        "read-only file": (tmp_path / name, "the file is not writable"),
        "same file": (tmp_path / name, "names the same file"),
    }[case]
    if case == "read-only directory":
        (tmp_path / "ro").mkdir()
        read_only(tmp_path / "ro")
    if case == "read-only file":
        path.write_text("previous\n")
        read_only(path)
    others = {"--output": tmp_path / "f.csv", "--save": tmp_path / "m.tsrnn",
              "--plot": tmp_path / "f.png"}
    others[option] = path
    if case == "same file":
        others["--output" if option != "--output" else "--save"] = path
    loaded = []
    monkeypatch.setattr(cli_read, "load_data", lambda args: loaded.append(args))
    argv = [a for opt, p in others.items() for a in (opt, str(p))]
    assert main(["forecast", *WEATHER, *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tsrnn: error: cannot write --") and \
        message in err
    assert loaded == []                                    # before the data are read
    assert not any(p.exists() for p in others.values() if p not in (path, tmp_path))


# ------------------------------------------------- forecasts and sizes
def test_values_beyond_float_range_are_an_error_not_a_table(tmp_path, capsys):
    """1e200 cannot be standardised (its square overflows float64): one line, status 2."""
    path = _csv(tmp_path)
    df = pd.read_csv(path)
    df.loc[50, "load"] = 1e200
    df.to_csv(path, index=False)
    code = main(["forecast", str(path), "--target", "load", *SMALL, "-q",
                 "--output", str(tmp_path / "f.csv")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("tsrnn: error: ")
    assert not (tmp_path / "f.csv").exists()


@pytest.mark.parametrize("command", ["forecast", "backtest"])
def test_non_finite_forecasts_are_an_error_not_a_table(command, tmp_path, monkeypatch, capsys):
    """Whatever makes a forecast NaN (an overflow the model did not catch), the command
    line never prints or writes it: one line, status 2."""
    import tsrnn.model_selection
    from tsrnn.forecasting import RNNForecaster

    predict, backtest = RNNForecaster.predict, tsrnn.model_selection.backtest

    def nan_predict(self, *args, **kwargs):
        return predict(self, *args, **kwargs) * np.nan

    def nan_backtest(*args, **kwargs):
        result = backtest(*args, **kwargs)
        result.forecasts.loc[3, "forecast"] = np.inf
        return result

    monkeypatch.setattr(RNNForecaster, "predict", nan_predict)
    monkeypatch.setattr(tsrnn.model_selection, "backtest", nan_backtest)
    code = main([command, *WEATHER, *SMALL, "-q", "--output", str(tmp_path / "f.csv")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("tsrnn: error: the forecasts are not finite (forecast is ")
    assert _files(tmp_path) == []


def test_a_huge_hidden_size_is_refused_in_one_line(capsys):
    start = time.monotonic()
    assert main(["forecast", *WEATHER, "--hidden-size", "1000000", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--hidden-size" in err
    assert time.monotonic() - start < 60


def test_memory_error_is_one_line(monkeypatch, capsys):
    from tsrnn.forecasting import RNNForecaster

    def fit(self, *args, **kwargs):
        raise MemoryError("Unable to allocate 14.6 TiB for an array")

    monkeypatch.setattr(RNNForecaster, "fit", fit)
    assert main(["forecast", *WEATHER, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tsrnn: error: out of memory (Unable to")


# ------------------------------------------------------ hostile inputs
@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_inputs_that_are_not_regular_files_are_refused_without_blocking(kind, tmp_path, capsys):
    """A FIFO would block pandas' open, /dev/zero would be read without end (audit 22, 23)."""
    path = tmp_path / "f.csv"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path = pathlib.Path("/dev/zero")
    start = time.monotonic()
    assert main(["forecast", str(path), "--target", "y"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot read {path}: " in err
    assert ("directory" if kind == "directory" else "not a regular file") in err
    assert time.monotonic() - start < 30


def test_a_fifo_model_file_is_refused(tmp_path, capsys):
    os.mkfifo(tmp_path / "m.tsrnn")
    assert main(["predict", "--model", str(tmp_path / "m.tsrnn"), "--dataset", "weather"]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_a_csv_too_large_for_the_memory_budget_is_refused(tmp_path, monkeypatch, capsys):
    path = _csv(tmp_path)
    monkeypatch.setenv("TSRNN_MEMORY_BUDGET", "1KiB")
    assert main(["forecast", str(path), "--target", "load"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "TSRNN_MEMORY_BUDGET" in err
    assert "KiB" in err


@pytest.mark.parametrize("value", ["1" + "0" * 400, "99999999999EiB"])
def test_an_absurd_memory_budget_is_one_clear_line(value, tmp_path, monkeypatch, capsys):
    path = _csv(tmp_path)
    monkeypatch.setenv("TSRNN_MEMORY_BUDGET", value)
    assert main(["forecast", str(path), "--target", "load"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "TSRNN_MEMORY_BUDGET=" in err and "must be a size" in err
    assert "lags" not in err
    from tsrnn._validation import memory_budget
    with pytest.raises(ValueError, match="TSRNN_MEMORY_BUDGET"):
        memory_budget()


@pytest.mark.parametrize("argv, message", [
    (["--season", "99999999999999999999"], "argument --season: '99999999999999999999' must be in"),
    (["--season", "1000001"], "must be in 1..1000000"),
    (["--seed", "-1"], "argument --seed: '-1' must be in 0..4294967295"),
    (["--seed", str(2**32)], "argument --seed"),
    (["--horizon", str(10**8)], "argument --horizon"),
    (["--lags", str(10**30)], "argument --lags"),
    (["--hidden-size", str(10**30)], "argument --hidden-size"),
    (["--max-iter", str(10**30)], "argument --max-iter"),
    (["--refit", str(10**30)], "argument --refit"),
    (["--refit", "-1"], "argument --refit: '-1' must be in 0.."),
    (["--initial", "1e11"], "argument --initial"),
])
def test_huge_integer_options_fail_at_parse_time_in_one_line(argv, message, tmp_path, capsys):
    path = _csv(tmp_path, n=30)
    cmd = "backtest" if argv[0] in ("--refit", "--initial") else "forecast"
    assert main([cmd, str(path), "--target", "load", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_notes_are_printed_only_when_the_run_succeeds(tmp_path, monkeypatch, capsys):
    """A short series skips its intervals with a note; an error later is the only line."""
    path = _csv(tmp_path, n=40)
    argv = ["forecast", str(path), "--target", "load", "--horizon", "3", *SMALL, "-q",
            "--coverage", "0.999"]
    assert main(argv) == 0
    assert "intervals skipped" in capsys.readouterr().err

    def fail(*a):
        raise UsageError("later failure")

    monkeypatch.setattr(cli, "_backtest_note", fail)
    assert main(argv) == 2
    assert capsys.readouterr().err == "tsrnn: error: later failure\n"


def test_predict_with_a_saved_ensemble(tmp_path, capsys):
    from tsrnn import RNNEnsembleForecaster, RNNForecaster, save

    path = _csv(tmp_path, future=3)
    df = cli_read.read_table(str(path))
    base = RNNForecaster(horizon=3, lags=10, past_covariates=["temp"],
                         estimator=RNNForecaster.default_estimator(max_iter=3, hidden_size=4))
    X = df[["temp", "holiday"]]
    ens = RNNEnsembleForecaster(base, n_models=2, lags=[8, 10], random_state=0)
    ens.fit(df["load"].iloc[:160], X)
    save(ens, tmp_path / "ens.tsrnn")
    assert main(["predict", "--model", str(tmp_path / "ens.tsrnn"), str(path), "-q",
                 "--output", str(tmp_path / "out.csv")]) == 0
    table = pd.read_csv(tmp_path / "out.csv", index_col=0)
    assert list(table.columns[:1]) == ["forecast"] and len(table) == 3
    assert np.allclose(table["forecast"], ens.predict(X=X, y=df["load"].iloc[:160]).to_numpy())


@pytest.mark.parametrize("option", ["--output", "--save", "--plot"])
def test_an_output_naming_the_input_csv_is_refused(option, tmp_path, capsys):
    path = _csv(tmp_path)
    before = path.read_bytes()
    assert main(["forecast", str(path), "--target", "load", *SMALL, "-q", option, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "it is the input file" in err
    assert path.read_bytes() == before


def test_an_output_naming_the_model_file_is_refused(tmp_path, capsys):
    model = tmp_path / "m.tsrnn"
    model.write_bytes(b"whatever")
    assert main(["predict", "--model", str(model), "--dataset", "weather",
                 "--output", str(model)]) == 2
    assert "it is --model" in capsys.readouterr().err and model.read_bytes() == b"whatever"
