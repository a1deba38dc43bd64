"""The command line's inputs and outputs: Parquet and stdin in; CSV, Parquet and JSON out;
several targets; one-line errors (status 2) for a bad format, Parquet file or stdin."""

import json
import sys

import numpy as np
import pandas as pd
import pytest

import tsrnn._cli_read as cli_read
from tsrnn._cli_write import json_records
from tsrnn.cli import main

pq = pytest.importorskip("pyarrow.parquet")

SMALL = ["--max-iter", "3", "--hidden-size", "4", "--lags", "10", "-q"]


def _frame(n=120):
    t = np.arange(n)
    return pd.DataFrame({"load": np.sin(t / 3) + 0.01 * t, "temp": np.cos(t / 5)},
                        index=pd.date_range("2023-01-01", periods=n, freq="D", name="day"))


def _one_line(capsys, status, code, *needles):
    err = capsys.readouterr().err
    assert code == status and err.count("\n") == 1 and err.startswith("tsrnn: error: "), err
    for needle in needles:
        assert needle in err, err


@pytest.fixture
def stdin(monkeypatch, tmp_path):
    """Feed ``data`` (bytes) to the process's stdin, as a pipe or a redirected file does."""
    def feed(data):
        path = tmp_path / "stdin"
        path.write_bytes(data)
        handle = open(path, "rb")  # noqa: SIM115 - closed by the fixture
        monkeypatch.setattr(sys, "stdin", _Stdin(handle))
        opened.append(handle)
    opened = []
    yield feed
    for handle in opened:
        handle.close()


class _Stdin:
    def __init__(self, handle):
        self.buffer = handle

    def fileno(self):
        return self.buffer.fileno()

    def isatty(self):
        return False


# ----------------------------------------------------------------- input
def test_parquet_with_a_stored_index_reads_as_the_csv_does(tmp_path):
    df = _frame()
    df.to_parquet(tmp_path / "d.parquet")                  # the index is stored as such
    df.to_csv(tmp_path / "d.csv")
    (tmp_path / "d.parquet").rename(tmp_path / "renamed.dat")   # found by its magic bytes
    a = cli_read.read_table(str(tmp_path / "renamed.dat"))
    b = cli_read.read_table(str(tmp_path / "d.csv"))
    pd.testing.assert_frame_equal(a, b, check_index_type=False, check_freq=False)
    assert a.index.name == "day" and isinstance(a.index, pd.DatetimeIndex)


def test_parquet_float_years_and_a_named_year_column(tmp_path):
    df = pd.DataFrame({"flow": np.arange(5.0), "year": 1871.0 + np.arange(5)})
    df.to_parquet(tmp_path / "nile.parquet", index=False)
    df.to_csv(tmp_path / "nile.csv", index=False)
    for name in ("nile.parquet", "nile.csv"):        # "year" is the time column, not the first
        got = cli_read.read_table(str(tmp_path / name))
        assert list(got.index) == list(range(1871, 1876)) and list(got.columns) == ["flow"]


@pytest.mark.parametrize("content", [b"garbage, not Parquet", b"PAR1 and then nothing"])
def test_an_unreadable_parquet_file_is_one_line(content, tmp_path, capsys):
    path = tmp_path / "bad.parquet"
    path.write_bytes(content)
    code = main(["forecast", str(path), "--target", "x"])
    _one_line(capsys, 2, code, f"cannot read {path} as Parquet: ")


def test_csv_and_parquet_from_stdin(stdin, tmp_path, capsys):
    df = _frame()
    stdin(df.to_csv().encode())
    pd.testing.assert_frame_equal(cli_read.read_table("-"), cli_read.read_table(
        str(_written(df, tmp_path))))
    df.to_parquet(tmp_path / "d.parquet")
    stdin((tmp_path / "d.parquet").read_bytes())
    assert main(["forecast", "-", "--target", "load", "--horizon", "2", *SMALL,
                 "--coverage", "0", "--output", str(tmp_path / "f.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["forecast"] and out[2].startswith("2023-05-01")


def _written(df, tmp_path):
    path = tmp_path / "d.csv"
    df.to_csv(path)
    return path


@pytest.mark.parametrize("data", [b"", b" \n\n"])
def test_an_empty_stdin_is_one_line(data, stdin, capsys):
    stdin(data)
    _one_line(capsys, 2, main(["forecast", "-", "--target", "y"]), "stdin is empty")


def test_stdin_at_a_terminal_is_refused_not_waited_for(monkeypatch, capsys):
    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    _one_line(capsys, 2, main(["forecast", "-", "--target", "y"]), "which is a terminal")


# ---------------------------------------------------------------- output
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny two-target model and its data: `predict` writes tables without a fit."""
    folder = tmp_path_factory.mktemp("saved")
    data = folder / "w.csv"
    frame = _frame()
    frame["load"] = frame["load"] * 1000      # two scales: 3 and 0 + 4 decimals
    frame.to_csv(data)
    model = folder / "m.tsrnn"
    assert main(["forecast", str(data), "--target", "load", "--target", "temp", "--horizon",
                 "3", *SMALL, "--save", str(model), "--output", str(folder / "f.csv")]) == 0
    return data, model, folder


def test_several_targets_are_forecast_jointly_and_all_printed(saved, capsys):
    data, model, folder = saved
    capsys.readouterr()
    assert main(["predict", "--model", str(model), str(data), "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["load", "load_lower", "load_upper", "temp", "temp_lower",
                                "temp_upper"]
    row = lines[2].split()
    # each target's columns with its own decimals: load ~ 1000 (1), temp ~ 0.7 (4)
    assert [len(v.split(".")[1]) for v in row[1:]] == [1, 1, 1, 4, 4, 4]
    table = pd.read_csv(folder / "f.csv")
    assert list(table.columns) == ["day", "load", "load_lower", "load_upper", "temp",
                                   "temp_lower", "temp_upper"] and len(table) == 3


@pytest.mark.parametrize("name, fmt", [("t.json", None), ("t.parquet", None), ("t.out", "json"),
                                       ("t.dat", "parquet"), ("t.csv.gz", None)])
def test_output_format_by_name_or_option(name, fmt, saved, tmp_path, capsys):
    data, model, folder = saved
    argv = ["predict", "--model", str(model), str(data), "-q", "--output", str(tmp_path / name)]
    assert main(argv + (["--format", fmt] if fmt else [])) == 0
    path = tmp_path / name
    expected = pd.read_csv(folder / "f.csv", parse_dates=["day"])
    if (fmt or name.split(".")[1]) == "json":
        records = json.loads(path.read_text())
        assert list(records[0]) == list(expected.columns)
        assert records[0]["day"] == "2023-05-01T00:00:00"
        got = pd.DataFrame(records).assign(day=lambda d: pd.to_datetime(d["day"]))
    elif (fmt or name.split(".")[1]) == "parquet":
        got = pd.read_parquet(path)
    else:
        got = pd.read_csv(path, parse_dates=["day"])
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12)


def test_predict_draws_the_plot_too(saved, tmp_path):
    data, model, _ = saved
    assert main(["predict", "--model", str(model), str(data), "-q", "--plot",
                 str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, message", [
    (["--output", "f.json", "--format", "csv"], "--output f.json names a json file, but "
                                                "--format is csv"),
    (["--output", "f.csv", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
    (["--format", "json"], "--format json applies to --output"),
    (["--output", "f.json.gz"], "only CSV output is compressed"),
    (["--strategy", "sideways"], "--strategy 'sideways' must be one of"),
    (["--ensemble", "5000"], "--ensemble 5000 must be at most 1000"),
])
def test_bad_output_and_model_options_fail_before_reading(argv, message, monkeypatch, capsys,
                                                          tmp_path):
    read = []
    monkeypatch.setattr(cli_read, "load_data", lambda args: read.append(args))
    monkeypatch.chdir(tmp_path)
    code = main(["forecast", "--dataset", "weather", "--target", "temp_max", *argv])
    _one_line(capsys, 2, code, message)
    assert read == [] and list(tmp_path.iterdir()) == []


def test_json_records_layout():
    frame = pd.DataFrame({
        "time": pd.date_range("2024-03-31 00:00", periods=2, freq="h", tz="Europe/Paris"),
        "steps": np.array([1871, 1872]), "value": [0.1, np.nan], "target": ["a", "b"]})
    records = json_records(frame)
    assert records == [
        {"time": "2024-03-31T00:00:00+01:00", "steps": 1871, "value": 0.1, "target": "a"},
        {"time": "2024-03-31T01:00:00+01:00", "steps": 1872, "value": None, "target": "b"}]
    assert json.loads(json.dumps(records)) == records


@pytest.mark.parametrize("option", ["--output", "--plot", "--save"])
def test_dash_is_not_an_output(option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["forecast", "--dataset", "weather", "--target", "temp_max", option, "-"])
    _one_line(capsys, 2, code, f"{option} -: give a file name")
    assert list(tmp_path.iterdir()) == []


def test_stdin_beyond_the_memory_budget_is_one_line(stdin, monkeypatch, capsys):
    monkeypatch.setenv("TSRNN_MEMORY_BUDGET", "10KiB")
    stdin(_frame(400).to_csv().encode())                  # about 20 KiB of CSV
    _one_line(capsys, 2, main(["forecast", "-", "--target", "load"]), "reading stdin (more "
              "than", "TSRNN_MEMORY_BUDGET")
