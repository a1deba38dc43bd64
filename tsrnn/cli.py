"""The ``tsrnn`` command line: forecast, backtest and predict from CSV or Parquet files, stdin
or bundled data.

Every error (bad arguments, missing files, unknown columns, unparseable dates, bad model
files, outputs that cannot be written) is one line on stderr and exit status 2 (set
``TSRNN_DEBUG=1`` for the traceback); Ctrl-C stops the run at any moment with ``tsrnn:
interrupted`` and exit status 130.  Output files are written only once everything
succeeded, each atomically (see :mod:`tsrnn._cli_files`).  A progress bar is drawn only
when stderr is a terminal and ``--quiet`` is not given.

The parts, each in its module: the arguments (:mod:`tsrnn._cli_parser`), the input
(:mod:`tsrnn._cli_read`), the model (:mod:`tsrnn._cli_model`), what is printed
(:mod:`tsrnn._cli_format`) and written (:mod:`tsrnn._cli_write`, :mod:`tsrnn._cli_files`).
They, NumPy and pandas are imported inside the functions: a Ctrl-C during those imports
then lands inside :func:`main`, which reports it in one line, instead of in ``import
tsrnn.cli``, which would print a traceback.
"""

from __future__ import annotations

import os
import sys

from tsrnn._cli_base import DATASETS, INTERRUPTED, UsageError, checkpoint, in_options

__all__ = ["main", "run"]


# --------------------------------------------------------------- helpers
def _table(fc, point, coverage, X, y=None, notes=None):
    """``(table, interval)``: the forecast with interval columns (each target's forecast,
    then its bounds), and the interval frame (None without one).  A short series that
    cannot calibrate the asked coverage still gets its forecast, with a note (appended to
    ``notes``, printed by the command once the run succeeded) instead of the intervals.
    Raises :class:`UsageError` when a forecast or a bound is not finite."""
    import pandas as pd

    single = isinstance(point, pd.Series)
    table = point.to_frame("forecast") if single else point
    _check_finite(table)    # before a note on intervals that cannot matter then
    if not coverage:
        return table, None
    try:
        iv = fc.predict_interval(coverage, X=X, y=y)
    except ValueError as exc:
        if notes is not None:
            notes.append(f"intervals skipped: {in_options(str(exc).splitlines()[0])}")
        return table, None
    flat = iv.copy()
    if not single:
        flat.columns = [f"{t}_{b}" for t, b in iv.columns]
        order = [c for t in point.columns for c in (t, f"{t}_lower", f"{t}_upper")]
        table = table.join(flat)[order]
    else:
        table = table.join(flat)
    _check_finite(table)
    return table, iv


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
    """Every output path, the table's format and the plot's checked before any data is
    read, so that no run fails after its fit, or after writing some of its outputs."""
    from tsrnn._cli_files import check_outputs
    from tsrnn._cli_write import check_plot_name, output_format

    data = getattr(args, "data", None)
    inputs = {"--model": getattr(args, "model", None),
              "the input file": data if data != "-" else None}
    for name in names:
        if getattr(args, name, None) == "-":
            raise UsageError(f"--{name} -: give a file name (- reads the input from stdin; "
                             "the table is printed on stdout anyway)")
    try:
        check_outputs({f"--{name}": getattr(args, name, None) for name in names}, inputs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    args.output_format = output_format(args.output, args.format)
    if "plot" in names and args.plot:
        check_plot_name(args.plot)


def _commit(files):
    """Write ``files`` ((path, write) pairs, None for an output not asked for) together;
    returns the paths written.  Before anything is printed, so that a closed pipe
    loses nothing."""
    from tsrnn._cli_files import Outputs

    with Outputs() as outputs:
        for path, write in files:
            if path:
                outputs.add(path, write)
        checkpoint()   # a Ctrl-C while writing: the staged files are removed, none replaced
        outputs.commit()
    return outputs.written


def _table_writer(args, frame):
    """The writer of ``--output`` for the flat table ``frame``, or None."""
    from tsrnn._cli_write import writer

    return writer(frame, args.output_format) if args.output else None


def _forecast_plot(args, y, point, iv, targets, backtest=None):
    """A writer of the forecast plot for ``--plot``, or None."""
    if not args.plot:
        return None
    from tsrnn._cli_write import savefig
    from tsrnn.plotting import plot_forecast

    name = ", ".join(map(str, targets))
    axes = plot_forecast(y, point, interval=iv, backtest=backtest,
                         title=f"{name}: {len(point)}-step forecast")
    return savefig(axes[0].figure)


def _report(out, lines, written, notes=()):
    for line in lines:
        print(line, file=out)
    for path in written:
        print(f"wrote {path}", file=out)
    # the run's notes on stderr: only once it succeeded, so that an error is one line
    for note in notes:
        print(note, file=sys.stderr)


def _data(args):
    """(history, covariates) of the targets and covariates the options name."""
    from tsrnn._cli_read import load_data, split_target

    df = load_data(args)
    return split_target(df, args.target, args.covariates, args.future_covariates)


# --------------------------------------------------------------- commands
def cmd_forecast(args, out):
    from tsrnn import _cli_model
    from tsrnn._cli_format import forecast_table
    from tsrnn._cli_write import flat

    _check_outputs(args, "output", "save", "plot")
    _cli_model.check(args)
    y, X = _data(args)
    checkpoint()
    fc = _cli_model.forecaster_for(args, y, X, args.quiet).fit(y, X)
    checkpoint()   # a fit cut short by Ctrl-C is not used
    point = fc.predict(X=X)
    notes = []
    table, iv = _table(fc, point, args.coverage, X, notes=notes)
    note, result = _backtest_note(args, y, X)
    checkpoint()

    def save_model(path):
        from tsrnn.persistence import save

        save(fc, path)

    plot = _forecast_plot(args, y, point, iv, args.target, result)
    written = _commit([(args.output, _table_writer(args, flat(table))),
                       (args.save, save_model), (args.plot, plot)])
    _report(out, [forecast_table(table, y), note], written, notes)
    return 0


def _backtest_note(args, y, X):
    """``(line, result)``: the forecaster's accuracy in a quick backtest on the last fifth,
    against the baselines (result None when it could not run)."""
    import numpy as np

    from tsrnn import _cli_model
    from tsrnn._cli_format import verdict
    from tsrnn.model_selection import backtest

    m = _cli_model.season(args, y)
    initial = _cli_model.NOTE_INITIAL
    try:
        fc = _cli_model.forecaster_for(args, y, X, True, _cli_model.n_initial(initial, len(y)))
        r = backtest(fc, y, X, initial=initial, m=m)
        if not np.isfinite(r.summary.loc["mase"].to_numpy(dtype=float)).all():
            raise ValueError(f"too little data for the seasonal period `m`={m}")
    except ValueError as exc:
        return f"backtest skipped: {in_options(str(exc).splitlines()[0])}", None
    share = f"{100 * (1 - initial):.0f} %"
    return (f"backtest on the last {share}, {verdict(r.summary, r.forecasts['origin'].nunique(), m)}",
            r)


def cmd_backtest(args, out):
    from tsrnn import _cli_model
    from tsrnn._cli_format import summary_table, verdict
    from tsrnn.model_selection import backtest

    _check_outputs(args, "output", "plot")
    _cli_model.check(args)
    y, X = _data(args)
    m = _cli_model.season(args, y)
    refit = args.refit if args.refit > 0 else False
    checkpoint()
    fc = _cli_model.forecaster_for(args, y, X, args.quiet,
                                   _cli_model.n_initial(args.initial, len(y)))
    r = backtest(fc, y, X, initial=args.initial, m=m, refit=refit,
                 coverage=args.coverage or None)
    checkpoint()
    _check_finite(r.forecasts, [c for c in ("forecast", "lower", "upper") if c in r.forecasts])
    plot = None
    if args.plot:
        from tsrnn._cli_write import savefig
        from tsrnn.plotting import plot_backtest

        plot = savefig(plot_backtest(r, level=args.coverage or None).figure)
    written = _commit([(args.output, _table_writer(args, r.forecasts)), (args.plot, plot)])
    n_origins = r.forecasts["origin"].nunique()
    names = ", ".join(map(str, args.target))
    lines = [f"{names}: {n_origins} origins x {args.horizon} steps, {r.n_fits} fit(s) in "
             f"{r.fit_time:.1f} s, seasonal period m={m}", summary_table(r.summary, y)]
    said = verdict(r.summary, n_origins, m)
    if said:
        lines.append(said)
    _report(out, lines, written)
    return 0


def cmd_predict(args, out):
    from tsrnn._cli_format import forecast_table
    from tsrnn._cli_read import check_input, load_data, split_target
    from tsrnn._cli_write import flat
    from tsrnn.persistence import load

    _check_outputs(args, "output", "plot")
    if os.path.exists(args.model):     # a missing one: load's own message
        check_input(args.model)
    fc = load(args.model)
    if not hasattr(fc, "predict_interval"):
        raise UsageError(f"{args.model} holds a {type(fc).__name__}, not a forecaster")
    # an ensemble's members share the columns; the first one names them
    spec = fc.members_[0] if getattr(fc, "members_", None) else fc
    if not hasattr(spec, "targets_"):
        raise UsageError(f"{args.model} holds a {type(fc).__name__} that this command "
                         "cannot use (no target column recorded)")
    df = load_data(args)
    targets = list(spec.targets_)
    missing = [t for t in targets if t not in df.columns]
    if missing:
        raise UsageError(f"the model forecasts {missing[0]!r}, which is not a column of the "
                         "data")
    y, X = split_target(df, targets, spec.past_covariates_ or [],
                        spec.future_covariates_ or [])
    checkpoint()
    point = fc.predict(X=X, y=y)
    notes = []
    table, iv = _table(fc, point, args.coverage, X, y=y, notes=notes)
    plot = _forecast_plot(args, y, point, iv, targets)
    written = _commit([(args.output, _table_writer(args, flat(table))), (args.plot, plot)])
    _report(out, [forecast_table(table, y)], written, notes)
    return 0


def cmd_datasets(args, out):
    from tsrnn._cli_read import load_dataset

    for name, (_, text) in DATASETS.items():
        df = load_dataset(name)
        print(f"{name}: {text}", file=out)
        print(f"  {len(df)} rows, {df.index[0]} .. {df.index[-1]}", file=out)
        print(f"  columns: {', '.join(map(str, df.columns))}", file=out)
    return 0


COMMANDS = {"forecast": cmd_forecast, "backtest": cmd_backtest, "predict": cmd_predict,
            "datasets": cmd_datasets}


# ------------------------------------------------------------------ main
def _command(argv, out):
    import warnings

    from tsrnn._cli_parser import build_parser

    parser = build_parser(COMMANDS)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(out)
        return 0
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
        elif not isinstance(exc, UsageError):
            message = in_options(message)
        print(f"tsrnn: error: {message}", file=sys.stderr)
        return 2


def run():
    """Console-script entry point: exits with :func:`main`'s status."""
    sys.exit(main())
