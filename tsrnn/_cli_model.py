"""The command line's model: the forecaster its options describe, the seasonal period of its
baselines, and the share of windows that calibrates its intervals.

The forecaster's own parameters are checked by the forecaster (its messages name them,
and :func:`tsrnn._cli_base.in_options` turns the names into options); nothing here
re-declares a default the library holds.
"""

from __future__ import annotations

import math
import sys

import pandas as pd
from sklearn.base import clone

from tsrnn._cli_base import UsageError, in_options
from tsrnn._ensemble import RNNEnsembleForecaster
from tsrnn._forecast import scaling, windows
from tsrnn._forecast.series import prepare
from tsrnn._forecast.timeaxis import resolve_axis
from tsrnn.forecasting import RNNForecaster

AUTO = "auto"
# the most a forecaster holds out (its `calibration_fraction` is at most a half)
MOST_CALIBRATION = 0.5
# the window that the forecast command's quick backtest note starts from
NOTE_INITIAL = 0.8


def default_season(index):
    """The seasonal period of the baselines (and of the MASE scale), from the index's
    frequency as the forecaster reads it: 12 for monthly data, 4 quarterly, 52 weekly,
    7 daily, 5 for business days, 24 hourly (a day over any sub-daily step); 1 for yearly
    data, integer steps and an index whose frequency cannot be told."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return 1
    try:
        axis = resolve_axis(index, None, "the time column")
    except (ValueError, TypeError):
        return 1
    return scaling.season_from_axis(axis)


def season(args, y):
    """``--season``, else the period of ``y``'s calendar."""
    return args.season or default_season(y.index)


def _log_scale(text):
    return {"true": True, "false": False}.get(text, text)


# network options: what is not given is the forecaster's default network's
NETWORK_OPTIONS = ("cell", "hidden_size", "num_layers", "max_iter")


def build(args, quiet=True, calibration_fraction=None):
    """The forecaster the options describe (an ensemble with ``--ensemble N`` > 1), with
    ``calibration_fraction`` (None: the forecaster's default)."""
    given = {k: getattr(args, k) for k in NETWORK_OPTIONS if getattr(args, k) is not None}
    network = RNNForecaster.default_estimator(**given,
                                              verbose=not quiet and sys.stderr.isatty())
    params = dict(lags=args.lags, horizon=args.horizon, strategy=args.strategy,
                  window_norm=None if args.window_norm == "none" else args.window_norm,
                  log_scale=_log_scale(args.log_scale),
                  past_covariates=list(args.covariates) or None, estimator=network,
                  random_state=args.seed)
    if calibration_fraction is not None:
        params["calibration_fraction"] = calibration_fraction
    fc = RNNForecaster(**params)
    if args.ensemble > 1:
        return RNNEnsembleForecaster(fc, n_models=args.ensemble, random_state=args.seed)
    return fc


def check(args):
    """Refuse, before the data are read, options the forecaster refuses."""
    try:
        build(args)._template()
    except (ValueError, TypeError) as exc:
        raise UsageError(in_options(str(exc))) from None


def calibration_fraction(args, y, X, n_fit=None):
    """``--calibration-fraction``; for ``auto`` the forecaster's default (a tenth of the
    windows), raised as far as needed (up to a half) for the first fit, on ``n_fit``
    observations (default: all), to hold out the ``ceil(c / (1 - c))`` calibration
    windows per step that ``--coverage c`` needs."""
    if args.calibration_fraction != AUTO:
        return args.calibration_fraction
    template = build(args)._template()
    fraction = template.calibration_fraction
    if not args.coverage:
        return fraction
    need = windows.calibration_need(args.coverage)
    try:
        prep = prepare(template, y, X)
    except (ValueError, TypeError):
        return fraction     # the fit says what is wrong, in its own words
    n = len(prep.data.raw) if n_fit is None else n_fit
    period = scaling.season_length(template, prep.axis)
    for _ in range(5):      # shorter windows leave more origins: a few rounds settle it
        spec = clone(template).set_params(calibration_fraction=fraction)
        origins = n - windows.resolve_lags(spec, period, n) - template.horizon + 1
        if origins <= 0 or math.ceil(fraction * origins) >= need or \
                fraction >= MOST_CALIBRATION:
            break
        fraction = min(MOST_CALIBRATION, math.ceil(1000 * need / origins) / 1000)
    return fraction


def n_initial(initial, n):
    """The observations of a backtest's first fit: ``initial``, or that fraction of ``n``
    (as :func:`tsrnn.model_selection.backtest` reads it)."""
    return int(initial * n) if isinstance(initial, float) else int(initial)


def forecaster_for(args, y, X, quiet, n_fit=None):
    """The forecaster of the options, with its calibration share for a first fit on
    ``n_fit`` observations (not fitted)."""
    return build(args, quiet, calibration_fraction(args, y, X, n_fit))
