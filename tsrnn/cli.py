"""The ``tsrnn`` command line: forecast, backtest and predict from CSV files or bundled data.

Every error (bad arguments, missing files, unknown columns, unparseable
dates, bad model files, outputs that cannot be written) is one line on stderr
and exit status 2 (set ``TSRNN_DEBUG=1`` for the traceback); Ctrl-C stops the
run at any moment with ``tsrnn: interrupted`` and exit status 130.  Output
files are written only once everything succeeded, each atomically (see
:mod:`tsrnn._cli_files`).  A progress bar is drawn only when stderr is a
terminal and ``--quiet`` is not given.

NumPy, pandas and the rest are imported inside the functions: a Ctrl-C during
those imports then lands inside :func:`main`, which reports it in one line,
instead of in ``import tsrnn.cli``, which would print a traceback.
"""

from __future__ import annotations

import os
import sys

from tsrnn._version import __version__

# name: (loader in tsrnn.datasets, description)
DATASETS = {
    "weather": ("load_weather", "Seattle daily weather (NOAA), 2012-2015"),
    "co2": ("load_co2", "Mauna Loa weekly CO2 (Scripps), 1958-2001"),
    "sea_temperature": ("load_sea_temperature",
                        "Buoy B01 water temperature every 30 min (NERACOOS), 2016-2017"),
    "stocks": ("load_stocks", "Daily adjusted close of five tickers (Quandl), 2000-2013"),
}
_TIME_NAMES = ("date", "time", "datetime", "timestamp", "ds")
INTERRUPTED = 130   # the shell's status for a program stopped by SIGINT (128 + 2)


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit status 2."""


def _load_dataset(name):
    from tsrnn import datasets

    return getattr(datasets, DATASETS[name][0])()


def _checkpoint():
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed since the command started.

    Inside :func:`main` the first Ctrl-C only sets a flag (so that it cannot land
    half-way through a training step); the command looks at it between its stages.
    """
    from tsrnn._engine import interrupts

    interrupts.checkpoint()


# ------------------------------------------------------------------ data
def read_table(path, time_col=None):
    """A CSV as a DataFrame indexed by its time column (parsed), sorted as given.

    Integer numbers in the time column (also written as floats: ``1871.0``,
    Excel's serial dates ``43831.0``) are time steps; other numbers are refused.
    """
    import numpy as np
    import pandas as pd

    _check_input(path, limit=True)
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path} as CSV: {str(exc).splitlines()[0]}") from None
    # a pandas-written index column ("Unnamed: 0") is row numbers, not data
    df = df.drop(columns=[c for c in df.columns if str(c).startswith("Unnamed:")])
    if df.shape[1] < 2:
        raise UsageError(f"{path} needs a time column and at least one value column.")
    if len(df) == 0:
        raise UsageError(f"{path} has no data rows.")
    if time_col is None:
        named = [c for c in df.columns if str(c).lower() in _TIME_NAMES]
        time_col = named[0] if named else df.columns[0]
    elif time_col not in df.columns:
        raise UsageError(f"--time-col {time_col!r} is not a column of {path} "
                         f"(columns: {', '.join(map(str, df.columns))})")
    column = df[time_col]
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise UsageError(f"missing time value in column {time_col!r} (data row {row + 1})")
    if pd.api.types.is_integer_dtype(column):   # time steps numbered 0, 1, 2 ...
        return df.drop(columns=[time_col]).set_index(pd.Index(column, name=time_col))
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        steps = _integer_steps(column.to_numpy(dtype=float), time_col)
        return df.drop(columns=[time_col]).set_index(pd.Index(steps, name=time_col))
    stamps = pd.to_datetime(column, errors="coerce", format="mixed")
    bad = stamps.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UsageError(f"unparseable date {column.iloc[row]!r} in column {time_col!r} "
                         f"(data row {row + 1}); choose the time column with --time-col")
    return df.drop(columns=[time_col]).set_index(pd.DatetimeIndex(stamps, name=time_col))


# pandas takes several times a CSV's text size in memory while it reads it
CSV_MEMORY_FACTOR = 10


def _check_input(path, limit=False):
    """Refuse, without opening it, an input that is missing or not a regular file (a
    FIFO or a device would block or never end, a directory cannot be read), and with
    ``limit`` a CSV too large to read within the memory budget."""
    import stat

    from tsrnn import _files

    try:
        info = os.stat(path)    # does not open the file: a FIFO cannot block here
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"cannot read {path}: it is {_files.describe(info.st_mode)}, not a "
                         "regular file")
    if limit:
        from tsrnn._validation import check_allocation, format_bytes

        try:
            check_allocation(f"reading {path} ({format_bytes(info.st_size)})",
                             info.st_size * CSV_MEMORY_FACTOR)
        except ValueError as exc:
            raise UsageError(str(exc)) from None


def _integer_steps(values, time_col):
    """Integer-valued floats (a column with a blank cell is read as floats, and
    spreadsheets write years and serial dates as ``1871.0``) as int64 steps."""
    import numpy as np

    # beyond 2**53 a float no longer tells neighbouring integers apart
    whole = np.isfinite(values) & (np.abs(values) < 2.0 ** 53) & (values == np.round(values))
    if not whole.all():
        row = int(np.flatnonzero(~whole)[0])
        raise UsageError(f"time column {time_col!r} holds non-integer numbers "
                         f"({float(values[row])!r} in data row {row + 1}); give dates or "
                         "integer steps, or choose the time column with --time-col")
    return values.astype(np.int64)


def load_data(args):
    if (args.csv is None) == (args.dataset is None):
        raise UsageError("give a CSV file or --dataset NAME (one of them)")
    if args.dataset is not None:
        if args.time_col is not None:
            raise UsageError("--time-col applies to a CSV file, not to --dataset")
        return _load_dataset(args.dataset)
    return read_table(args.csv, args.time_col)


def split_target(df, args):
    """(y, X, future covariate names): the target history and covariates; trailing rows with a
    missing target but known future covariates are the forecast steps' covariates."""
    import numpy as np
    import pandas as pd

    names = [args.target] + list(args.covariates) + list(args.future_covariates)
    unknown = [c for c in names if c not in df.columns]
    if unknown:
        raise UsageError(f"unknown column(s) {', '.join(map(repr, unknown))}; available: "
                         f"{', '.join(map(str, df.columns))}")
    for c in names:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise UsageError(f"column {c!r} is not numeric")
    observed = df[args.target].notna().to_numpy()
    if not observed.any():
        raise UsageError(f"column {args.target!r} has no values")
    end = int(np.flatnonzero(observed)[-1]) + 1
    y = df[args.target].iloc[:end]
    cov = list(args.covariates) + list(args.future_covariates)
    X = df[cov] if cov else None
    return y, X


def default_season(index):
    """A natural seasonal period for the naive baseline, from the spacing of the index."""
    import pandas as pd

    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return 1
    step = pd.Series(index[1:] - index[:-1]).median()
    if step <= pd.Timedelta("30min"):
        return int(pd.Timedelta("1D") / step)
    if step <= pd.Timedelta("1h"):
        return 24
    if step <= pd.Timedelta("1D"):
        weekdays_only = (index.day_of_week < 5).all()
        return 5 if weekdays_only else 7
    if step <= pd.Timedelta("7D"):
        return 52
    if step <= pd.Timedelta("31D"):
        return 12
    return 1


# --------------------------------------------------------------- commands
def _forecaster(args, quiet):
    from tsrnn.forecasting import RNNForecaster

    network = RNNForecaster.default_estimator(
        cell=args.cell, hidden_size=args.hidden_size, max_iter=args.max_iter,
        verbose=not quiet and sys.stderr.isatty())
    return RNNForecaster(lags=args.lags, horizon=args.horizon,
                         past_covariates=list(args.covariates) or None, estimator=network,
                         random_state=args.seed)


def _table(fc, point, coverage, X, y=None, notes=None):
    """The forecast with interval columns; a short series that cannot calibrate the asked
    coverage still gets its forecast, with a note (appended to ``notes``, printed by the
    command once the run succeeded) instead of the intervals.  Raises
    :class:`UsageError` when a forecast or a bound is not finite."""
    import pandas as pd

    table = point.to_frame("forecast") if isinstance(point, pd.Series) else point
    _check_finite(table)    # before a note on intervals that cannot matter then
    if coverage:
        try:
            iv = fc.predict_interval(coverage, X=X, y=y)
        except ValueError as exc:
            if notes is not None:
                notes.append(f"intervals skipped: {str(exc).splitlines()[0]}")
            return table
        if not isinstance(point, pd.Series):
            iv.columns = [f"{t}_{b}" for t, b in iv.columns]
        table = table.join(iv)
        _check_finite(table)
    return table


def _check_finite(table, columns=None):
    """Refuse to show or write forecasts that are NaN or infinite (an overflow the model
    did not catch): an error, not a table of NaN and exit status 0."""
    import numpy as np

    values = table[columns] if columns is not None else table
    values = values.select_dtypes("number")
    bad = ~np.isfinite(values.to_numpy(dtype=float))
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        when = table["time"].iloc[row] if "time" in table else table.index[row]  # a backtest's
        raise UsageError(f"the forecasts are not finite ({values.columns[col]} is "
                         f"{values.iat[row, col]} at {when}); the model's arithmetic "
                         "overflowed: rescale the data")


def _check_outputs(args, *names):
    """Every output path (and the plot's format) checked before any data is read, so
    that no run fails after its fit, or after writing some of its outputs."""
    from tsrnn._cli_files import check_outputs

    inputs = {"--model": getattr(args, "model", None), "the input CSV": getattr(args, "csv", None)}
    try:
        check_outputs({f"--{name}": getattr(args, name, None) for name in names}, inputs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    plot = getattr(args, "plot", None)
    if "plot" in names and plot:
        import matplotlib

        matplotlib.use("Agg")    # file-only: no display needed, nothing opens a window
        from matplotlib.figure import Figure

        ext = os.path.splitext(plot)[1].lstrip(".").lower()
        if ext not in Figure().canvas.get_supported_filetypes():
            raise UsageError(f"--plot {plot}: unknown image format {ext!r} (use .png, .svg, .pdf)")


def _commit(files):
    """Write ``files`` ((path, write) pairs, None for an output not asked for) together;
    returns the paths written.  Before anything is printed, so that a closed pipe
    loses nothing."""
    from tsrnn._cli_files import Outputs

    with Outputs() as outputs:
        for path, write in files:
            if path:
                outputs.add(path, write)
        _checkpoint()   # a Ctrl-C while writing: the staged files are removed, none replaced
        outputs.commit()
    return outputs.written


def _savefig(figure):
    """A writer of ``figure`` for :func:`_commit` (the format follows the file name)."""
    def write(path):
        try:
            figure.savefig(path, dpi=110)
        finally:
            import matplotlib.pyplot as plt

            plt.close(figure)
    return write


def cmd_forecast(args, out):
    _check_outputs(args, "output", "save", "plot")
    df = load_data(args)
    y, X = split_target(df, args)
    _checkpoint()
    fc = _forecaster(args, args.quiet).fit(y, X)
    _checkpoint()   # a fit cut short by Ctrl-C is not used
    point = fc.predict(X=X)
    notes = []
    table = _table(fc, point, args.coverage, X, notes=notes)
    note = _backtest_note(args, y, X)
    _checkpoint()

    def save_model(path):
        from tsrnn.persistence import save

        save(fc, path)

    plot = None
    if args.plot:
        from tsrnn.plotting import plot_forecast

        iv = None
        if args.coverage and {"lower", "upper"} <= set(table.columns):
            iv = table[["lower", "upper"]]
        axes = plot_forecast(y, point, interval=iv, title=f"{args.target}: {args.horizon}-step "
                             f"forecast ({args.cell})")
        plot = _savefig(axes[0].figure)
    written = _commit([(args.output, table.to_csv), (args.save, save_model), (args.plot, plot)])
    print(table.to_string(float_format=lambda v: f"{v:.4g}"), file=out)
    print(note, file=out)
    for path in written:
        print(f"wrote {path}", file=out)
    _print_notes(notes)
    return 0


def _print_notes(notes):
    """The run's notes on stderr: only once it succeeded, so that an error is one line."""
    for note in notes:
        print(note, file=sys.stderr)


def _backtest_note(args, y, X):
    """One line on the forecaster's accuracy in a quick backtest against the baselines."""
    import numpy as np

    from tsrnn.model_selection import backtest

    m = args.season or default_season(y.index)
    try:
        r = backtest(_forecaster(args, True), y, X, initial=0.8, m=m)
        s = r.summary.loc["mase"]
        if not np.isfinite(s.to_numpy(dtype=float)).all():
            raise ValueError(f"too little data for the seasonal period m={m}")
    except ValueError as exc:
        return f"backtest skipped: {str(exc).splitlines()[0]}"
    return (f"backtest on the last 20 % ({r.forecasts['origin'].nunique()} origins): MASE "
            f"{s['forecaster']:.3f} vs naive {s['naive']:.3f}, seasonal naive (m={m}) "
            f"{s['seasonal_naive']:.3f}")


def cmd_backtest(args, out):
    from tsrnn.model_selection import backtest

    _check_outputs(args, "output", "plot")
    df = load_data(args)
    y, X = split_target(df, args)
    m = args.season or default_season(y.index)
    _checkpoint()
    r = backtest(_forecaster(args, args.quiet), y, X, initial=args.initial, m=m,
                 refit=args.refit, coverage=args.coverage or None)
    _checkpoint()
    _check_finite(r.forecasts, [c for c in ("forecast", "lower", "upper") if c in r.forecasts])
    plot = None
    if args.plot:
        from tsrnn.plotting import plot_backtest

        plot = _savefig(plot_backtest(r).figure)
    written = _commit([(args.output, lambda path: r.forecasts.to_csv(path, index=False)),
                       (args.plot, plot)])
    print(f"{args.target}: {r.forecasts['origin'].nunique()} origins x {args.horizon} steps, "
          f"{r.n_fits} fit(s) in {r.fit_time:.1f} s, seasonal period m={m}", file=out)
    print(r.summary.to_string(float_format=lambda v: f"{v:.4f}"), file=out)
    for path in written:
        print(f"wrote {path}", file=out)
    return 0


def cmd_predict(args, out):
    from tsrnn.persistence import load

    _check_outputs(args, "output")
    if os.path.exists(args.model):     # a missing one: load's own message
        _check_input(args.model)
    fc = load(args.model)
    if not hasattr(fc, "predict_interval"):
        raise UsageError(f"{args.model} holds a {type(fc).__name__}, not a forecaster")
    # an ensemble's members share the columns; the first one names them
    spec = fc.members_[0] if getattr(fc, "members_", None) else fc
    if not hasattr(spec, "targets_"):
        raise UsageError(f"{args.model} holds a {type(fc).__name__} that this command "
                         "cannot use (no target column recorded)")
    df = load_data(args)
    target = spec.targets_[0]
    if target not in df.columns:
        raise UsageError(f"the model forecasts {target!r}, which is not a column of the data")
    args.target, args.covariates = target, list(spec.past_covariates_ or [])
    args.future_covariates = list(spec.future_covariates_ or [])
    y, X = split_target(df, args)
    _checkpoint()
    point = fc.predict(X=X, y=y)
    notes = []
    table = _table(fc, point, args.coverage, X, y=y, notes=notes)
    written = _commit([(args.output, table.to_csv)])
    print(table.to_string(float_format=lambda v: f"{v:.4g}"), file=out)
    for path in written:
        print(f"wrote {path}", file=out)
    _print_notes(notes)
    return 0


def cmd_datasets(args, out):
    for name, (_, text) in DATASETS.items():
        df = _load_dataset(name)
        print(f"{name}: {text}", file=out)
        print(f"  {len(df)} rows, {df.index[0]} .. {df.index[-1]}", file=out)
        print(f"  columns: {', '.join(map(str, df.columns))}", file=out)
    return 0


# ----------------------------------------------------------------- parser
def _checked(convert, ok, rule):
    """An argparse ``type``: ``convert`` the text, then require ``ok(value)``."""
    noun = "an integer" if convert is int else "a number"

    def parse(text):
        import argparse

        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text!r} {rule}")
        return value
    return parse


MAX_SIZE = 10**7       # horizon, lags, hidden size, epochs, refit period, initial count
MAX_SEASON = 10**6
_size = _checked(int, lambda v: 1 <= v <= MAX_SIZE, f"must be in 1..{MAX_SIZE}")
_season = _checked(int, lambda v: 1 <= v <= MAX_SEASON, f"must be in 1..{MAX_SEASON}")
_seed = _checked(int, lambda v: 0 <= v <= 2**32 - 1, f"must be in 0..{2**32 - 1}")
_refit = _checked(int, lambda v: 0 <= v <= MAX_SIZE, f"must be in 0..{MAX_SIZE}")


def _lags(text):
    """``--lags``: ``auto`` or a positive integer."""
    return "auto" if text == "auto" else _size(text)
_coverage = _checked(float, lambda v: 0 <= v < 1, "must be in [0, 1) (0: no intervals)")
_fraction_or_count = _checked(float, lambda v: 0 < v < 1 or 1 <= v <= MAX_SIZE,
                              f"must be a fraction in (0, 1) or a count up to {MAX_SIZE}")


def _initial(text):
    value = _fraction_or_count(text)
    return int(value) if value >= 1 else value


def build_parser():
    """The argument parser of ``tsrnn`` and its commands (errors raise :class:`UsageError`)."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message):
            raise UsageError(message)

    parser = _Parser(prog="tsrnn", description="Recurrent-network forecasting from the command "
                     "line (CSV in, forecast table, plot and model file out).")
    parser.add_argument("--version", action="version", version=f"tsrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def data_args(p):
        p.add_argument("csv", nargs="?", help="CSV file with a time column and value columns")
        p.add_argument("--dataset", choices=sorted(DATASETS), help="use a bundled dataset")
        p.add_argument("--time-col", help="the time column (default: a column named date/time/"
                       "datetime/timestamp, else the first)")
        p.add_argument("--output", "-o", help="write the table to this CSV file")
        p.add_argument("--coverage", type=_coverage, default=0.9,
                       help="prediction interval coverage (default 0.9; 0 for none)")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    def model_args(p):
        p.add_argument("--target", required=True, help="the column to forecast")
        p.add_argument("--horizon", type=_size, default=7, help="steps (default 7)")
        p.add_argument("--lags", type=_lags, default="auto",
                       help="history steps, or auto: four horizons, at least a season and "
                            "24 (default auto)")
        p.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm")
        p.add_argument("--hidden-size", type=_size, default=32)
        p.add_argument("--max-iter", type=_size, default=200, help="epochs (200)")
        p.add_argument("--covariates", nargs="+", default=[], metavar="COL",
                       help="columns known only up to the present (past covariates)")
        p.add_argument("--future-covariates", nargs="+", default=[], metavar="COL",
                       help="columns known ahead; the CSV must extend them over the forecast "
                       "steps (rows with the target empty)")
        p.add_argument("--season", type=_season, default=None,
                       help="seasonal period of the baseline (default from the frequency)")
        p.add_argument("--seed", type=_seed, default=0)
        p.add_argument("--plot", help="write a PNG plot to this file")

    f = sub.add_parser("forecast", help="fit, print the forecast table and a backtest note",
                       description="Fit a forecaster and print the next --horizon values with "
                       "intervals, and a one-line accuracy note from a quick backtest.")
    data_args(f)
    model_args(f)
    f.add_argument("--save", help="write the fitted model (.tsrnn) to this file")
    f.set_defaults(func=cmd_forecast)

    b = sub.add_parser("backtest", help="rolling-origin evaluation against seasonal naive",
                       description="Rolling-origin backtest; prints metrics of the forecaster, "
                       "naive and seasonal naive.")
    data_args(b)
    model_args(b)
    b.add_argument("--initial", type=_initial, default=0.7,
                   help="first training window: observations, or a fraction (default 0.7)")
    b.add_argument("--refit", type=_refit, default=0,
                   help="refit every N origins (default 0: fit once)")
    b.set_defaults(func=cmd_backtest)

    p = sub.add_parser("predict", help="forecast with a saved model, without refitting",
                       description="Forecast from the end of the given data with a model saved "
                       "by `tsrnn forecast --save`.")
    p.add_argument("--model", required=True, help="a .tsrnn file")
    data_args(p)
    p.set_defaults(func=cmd_predict)

    d = sub.add_parser("datasets", help="list the bundled datasets",
                       description="List the bundled datasets with their columns and ranges.")
    d.set_defaults(func=cmd_datasets)
    return parser


def _command(argv, out):
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(out)
        return 0
    if hasattr(args, "refit"):
        args.refit = args.refit if args.refit > 0 else False
    if args.command != "datasets":
        from tsrnn._validation import memory_budget

        try:
            memory_budget()    # a bad TSRNN_MEMORY_BUDGET: its own message, before any work
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    with warnings.catch_warnings():
        if getattr(args, "quiet", False):
            warnings.simplefilter("ignore")
        return args.func(args, out)


def _interrupted():
    print("tsrnn: interrupted", file=sys.stderr)
    return INTERRUPTED


def main(argv=None, out=None):
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).
    out : file, optional
        Where the tables go (default: ``sys.stdout``); messages go to ``sys.stderr``.

    Returns
    -------
    int
        The exit status: 0; 2 after an error, reported in one line on stderr;
        130 after Ctrl-C (``tsrnn: interrupted`` on stderr), no output written.
    """
    out = sys.stdout if out is None else out
    debug = bool(os.environ.get("TSRNN_DEBUG"))
    try:
        # the imports too are inside the handlers: a Ctrl-C at any moment gets one line
        from tsrnn._engine import interrupts

        # the first Ctrl-C only sets a flag: a fit stops after its minibatch, the command
        # at its next checkpoint, and KeyboardInterrupt comes here when the scope ends
        with interrupts.deferred(raise_on_exit=True):
            try:
                return _command(argv, out)
            except Exception:
                interrupts.checkpoint()   # an error after a Ctrl-C (of a fit cut short) is it
                raise
    except KeyboardInterrupt:
        if debug:
            raise
        return _interrupted()
    except BrokenPipeError:  # `tsrnn forecast ... | head`: the reader left; outputs are written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        return 0
    except Exception as exc:  # the CLI reports every failure as one line (raise re-raises)
        if debug:
            raise
        from tsrnn._engine.interrupts import is_interrupt

        if is_interrupt(exc):   # a forced Ctrl-C inside a compiled call: Numba's SystemError
            return _interrupted()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, MemoryError):
            message = (f"out of memory ({message}); try a smaller --hidden-size or --lags, "
                       "or less data")
        print(f"tsrnn: error: {message}", file=sys.stderr)
        return 2


def run():
    """Console-script entry point: exits with :func:`main`'s status."""
    sys.exit(main())
