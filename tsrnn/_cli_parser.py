"""The command line's arguments: the ``tsrnn`` parser and the checks of each value.

Integer options are bounded here, at parse time, so that an absurd value is one line
before any work.  Options of the forecaster left out take the forecaster's defaults (they
are None here); the forecaster checks their values.  Only the standard library is imported
at module level.
"""

from __future__ import annotations

from tsrnn._cli_base import DATASETS, FORMATS, UsageError
from tsrnn._version import __version__

MAX_SIZE = 10**7       # horizon, lags, hidden size, epochs, members, refit period, initial
MAX_SEASON = 10**6


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


_size = _checked(int, lambda v: 1 <= v <= MAX_SIZE, f"must be in 1..{MAX_SIZE}")
_season = _checked(int, lambda v: 1 <= v <= MAX_SEASON, f"must be in 1..{MAX_SEASON}")
_seed = _checked(int, lambda v: 0 <= v <= 2**32 - 1, f"must be in 0..{2**32 - 1}")
_refit = _checked(int, lambda v: 0 <= v <= MAX_SIZE, f"must be in 0..{MAX_SIZE}")
_coverage = _checked(float, lambda v: 0 <= v < 1, "must be in [0, 1) (0: no intervals)")
_fraction_or_count = _checked(float, lambda v: 0 < v < 1 or 1 <= v <= MAX_SIZE,
                              f"must be a fraction in (0, 1) or a count up to {MAX_SIZE}")
_held_out = _checked(float, lambda v: 0 < v <= 0.5, "must be in (0, 0.5] or auto")


def _lags(text):
    """``--lags``: ``auto`` or a positive integer."""
    return "auto" if text == "auto" else _size(text)


def _calibration(text):
    """``--calibration-fraction``: ``auto`` or a fraction in (0, 0.5]."""
    return "auto" if text == "auto" else _held_out(text)


def _initial(text):
    value = _fraction_or_count(text)
    return int(value) if value >= 1 else value


def _data_args(p):
    p.add_argument("data", nargs="?", metavar="FILE",
                   help="CSV or Parquet file with a time column and value columns; - reads "
                        "it from stdin")
    p.add_argument("--dataset", choices=sorted(DATASETS), help="use a bundled dataset")
    p.add_argument("--time-col", help="the time column (default: a Parquet file's index, "
                   "else a column named date, time, year, month, ... , else the first)")
    p.add_argument("--output", "-o", metavar="FILE",
                   help="write the table to this file (.csv, .parquet or .json; other names "
                        "CSV unless --format says)")
    p.add_argument("--format", choices=FORMATS,
                   help="the --output file's format (default: from its name)")
    p.add_argument("--coverage", type=_coverage, default=0.9,
                   help="prediction interval coverage (default 0.9; 0 for none)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _model_args(p):
    p.add_argument("--target", required=True, action="append", metavar="COL",
                   help="the column to forecast; repeat for several, forecast jointly")
    p.add_argument("--horizon", type=_size, default=7, help="steps (default 7)")
    p.add_argument("--lags", type=_lags, default="auto",
                   help="history steps, or auto: four horizons, at least a season and "
                        "24 (default auto)")
    p.add_argument("--cell", choices=("lstm", "gru", "rnn"), default=None,
                   help="the recurrent cell (default lstm)")
    p.add_argument("--hidden-size", type=_size, default=None,
                   help="units per layer (default: the forecaster's network's)")
    p.add_argument("--num-layers", type=_size, default=None, help="stacked layers (default 1)")
    p.add_argument("--max-iter", type=_size, default=None,
                   help="epochs, with early stopping (default: the forecaster's network's)")
    p.add_argument("--strategy", default="direct",
                   help="direct (default), recursive or seq2seq (encoder-decoder)")
    p.add_argument("--window-norm", default="auto",
                   help="what each window is relative to: auto (default), last, season, "
                        "decompose or none")
    p.add_argument("--log-scale", choices=("auto", "true", "false"), default="false",
                   help="model the series on a log scale (default false)")
    p.add_argument("--ensemble", type=_size, default=1, metavar="N",
                   help="combine N networks differing in seed (median; default 1)")
    p.add_argument("--calibration-fraction", type=_calibration, default="auto",
                   help="share of the windows held out to calibrate the intervals, in "
                        "(0, 0.5], or auto: a tenth, more when --coverage needs more "
                        "(default auto)")
    p.add_argument("--covariates", nargs="+", default=[], metavar="COL",
                   help="columns known only up to the present (past covariates)")
    p.add_argument("--future-covariates", nargs="+", default=[], metavar="COL",
                   help="columns known ahead; the data must extend them over the forecast "
                        "steps (rows with the targets empty)")
    p.add_argument("--season", type=_season, default=None,
                   help="seasonal period of the baseline (default from the frequency: 12 "
                        "monthly, 4 quarterly, 7 daily, ...)")
    p.add_argument("--seed", type=_seed, default=0)


def _plot_arg(p):
    p.add_argument("--plot", metavar="FILE", help="draw the forecast to this image (.png, "
                   ".svg, .pdf)")


def build_parser(commands):
    """The argument parser of ``tsrnn`` (errors raise :class:`UsageError`); ``commands``
    maps each command's name to the function that runs it."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message):
            raise UsageError(message)

    parser = _Parser(prog="tsrnn", description="Recurrent-network forecasting from the command "
                     "line (CSV or Parquet in; forecast table, plot and model file out).")
    parser.add_argument("--version", action="version", version=f"tsrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    f = sub.add_parser("forecast", help="fit, print the forecast table and a backtest note",
                       description="Fit a forecaster and print the next --horizon values with "
                       "intervals, and a one-line accuracy note from a quick backtest.")
    _data_args(f)
    _model_args(f)
    _plot_arg(f)
    f.add_argument("--save", metavar="FILE", help="write the fitted model (.tsrnn) here")
    f.set_defaults(func=commands["forecast"])

    b = sub.add_parser("backtest", help="rolling-origin evaluation against the naive baselines",
                       description="Rolling-origin backtest; prints metrics of the forecaster, "
                       "naive and seasonal naive.")
    _data_args(b)
    _model_args(b)
    b.add_argument("--plot", metavar="FILE", help="draw the backtest to this image")
    b.add_argument("--initial", type=_initial, default=0.7,
                   help="first training window: observations, or a fraction (default 0.7)")
    b.add_argument("--refit", type=_refit, default=0,
                   help="refit every N origins (default 0: fit once)")
    b.set_defaults(func=commands["backtest"])

    p = sub.add_parser("predict", help="forecast with a saved model, without refitting",
                       description="Forecast from the end of the given data with a model saved "
                       "by `tsrnn forecast --save`.")
    p.add_argument("--model", required=True, help="a .tsrnn file")
    _data_args(p)
    _plot_arg(p)
    p.set_defaults(func=commands["predict"])

    d = sub.add_parser("datasets", help="list the bundled datasets",
                       description="List the bundled datasets with their columns and ranges.")
    d.set_defaults(func=commands["datasets"])
    return parser
