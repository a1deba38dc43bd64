"""The single-series forecaster: one series (one or several joint targets), one estimator.

:func:`fit` sets the forecaster's fitted attributes (``estimator_``,
``targets_``, covariates, ``axis_``, ``calibration_residuals_``,
``n_windows_``) and its one :class:`~tsrnn._forecast.series.SeriesState`;
:func:`predict` forecasts from the end of the fitted series or from a newer
history of it.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from tsrnn._forecast import forecast, regressor, scaling, static, windows
from tsrnn._forecast.forecast import frame, labels, series_forecast
from tsrnn._forecast.series import (
    SeriesState,
    check_length,
    check_training_windows,
    forecast_inputs,
    prepare,
)
from tsrnn._validation import NoTrainingSamplesError


def fit(fc, y, X):
    """Fit the forecaster ``fc`` on one series."""
    vars(fc).pop("static_", None)  # a global model's, from an earlier fit
    prep = prepare(fc, y, X)
    data = prep.data
    fc.lags_ = windows.resolve_lags(fc, scaling.season_length(fc, prep.axis), len(data.raw))
    check_length(fc, data, prep.future, "`y`")
    n_t = data.n_targets
    targets = list(data.raw.columns[:n_t])
    A, F, Yraw = data.arrays()
    cal = windows.calibration_origins(fc, len(A))
    state, notes = scaled_state(fc, prep, A[:training_rows(cal, len(A)), :n_t], "`y`")
    for param, why in notes.items():
        warnings.warn(f"`{param}`={getattr(fc, param)!r} but `y` {why}: it is "
                      f"{scaling.FALLBACKS[param][1]}.", UserWarning, stacklevel=3)
    own, known = Yraw, A[:, :n_t]
    A, Yraw = in_units(state, A, Yraw, n_t)
    Xw, Yw, _ = windows.training_windows(fc, A, F, Yraw, n_t, cal, state.window_norm)
    check_training_windows(fc, data, cal, len(Xw), "`y`")
    fc.targets_ = targets
    fc.past_covariates_, fc.future_covariates_ = prep.past, prep.future
    fc.axis_ = prep.axis
    fc._columns = regressor.window_columns(fc, targets + prep.past, prep.future,
                                           windows.train_steps(fc))
    fit_estimator(fc, Xw, Yw)
    fc.calibration_residuals_ = windows.residuals(fc, predictor(fc), A, F, Yraw, cal, n_t,
                                                  state.window_norm)
    fc._cal_keys, fc._cal_values = calibration_record(fc, state, data.raw.index[cal], cal, own,
                                                      Yraw, fc.calibration_residuals_, 0)
    # forecasts read the decomposition re-estimated on every fitted value
    fc._state = state.reseasoned(known)
    return fc


def calibration_record(fc, state, times, cal, own, units, residuals, code, start=0):
    """(keys, values) of a series' calibration windows at positions ``cal`` (origin
    ``times``; row 0 of the arrays at step ``start``), for combining models: keys
    ``(n_cal, 3)`` int64 (series code, origin time as an integer, the origin's step
    number), values ``(n_cal, horizon, n_targets, 2)`` the actual values and the
    forecasts in the series' own units (recovered from the residuals in model units)."""
    steps = cal[:, None] + np.arange(1, fc.horizon + 1)
    n_t = own.shape[1]
    if residuals is None or not len(cal):
        return np.empty((0, 3), np.int64), np.empty((0, fc.horizon, n_t, 2))
    times = times.as_unit("ns").asi8 if hasattr(times, "as_unit") else \
        np.asarray(times, dtype=np.int64)
    keys = np.stack([np.full(len(cal), code, np.int64), times, cal + start], axis=1)
    point = state.from_units(units[steps] - residuals, steps + start)
    return keys, np.stack([own[steps], point], axis=3)


def training_rows(cal, n):
    """Rows a series' scaling may look at: those up to its first calibration origin."""
    return int(cal[0]) + 1 if len(cal) else n


def scaled_state(fc, prep, values, what, **fields):
    """(state, notes): the :class:`SeriesState` of a prepared series, with its scaling
    decided from its training ``values`` (targets in their own units, from its first
    observation), and why requested normalisations do not apply (see
    :func:`tsrnn._forecast.scaling.resolve`)."""
    found, notes = scaling_of(fc, values, prep.axis, what)
    filled = prep.data.filled
    state = SeriesState(prep.axis, prep.kind, prep.name, filled.iloc[-fc.lags_:].copy(),
                        norm=found.norm, season=found.season, seasonal=found.seasonal,
                        mult=found.mult, anchor=filled.index[:1],
                        history_start=max(0, len(filled) - fc.lags_),
                        **fields)
    if found.log:
        # the log applies to the seasonally adjusted values
        adjusted = state.to_units(values, np.arange(len(values)))
        state = dataclasses.replace(state, log=True, floor=float(np.nanmin(adjusted)))
    return state, notes


def scaling_of(fc, values, axis, what):
    """A series' :class:`~tsrnn._forecast.scaling.Scaling`, checked against ``lags``."""
    m = scaling.season_length(fc, axis)
    found, notes = scaling.resolve(fc, values, m, scaling.exact_season(fc, axis))
    if found.norm == "season" and fc.lags_ < m:
        raise ValueError(f"`window_norm`='season' needs `lags` >= the season length {m} "
                         f"({what}); `lags`={fc.lags_}. Raise `lags` or set `season_length`.")
    return found, notes


def in_units(state, A, Yraw, n_targets, start=0):
    """The arrays of a series (row 0 at step ``start``) with its targets in the model's
    units (copies when changed)."""
    return (state.targets_to_units(A, n_targets, start),
            state.to_units(Yraw, start + np.arange(len(Yraw))))


def fit_estimator(fc, Xw, Yw, *, extra_gap=0, embedding=None):
    """Fit a clone of the forecaster's estimator on the windows (continuing the fitted
    one when its ``warm_start`` is set)."""
    est = regressor.prepare_estimator(fc, windows.train_steps(fc), extra_gap=extra_gap,
                                      random_state=fc.random_state)
    decoder, n_static = None, static.size(fc)
    if windows.is_packed(fc):
        n_known = len(fc.targets_) + len(fc.past_covariates_)
        decoder = windows.decoder_layout(fc, n_known, Xw.shape[2] - 1 - n_known,
                                         len(fc.targets_))
    if est.get_params(deep=False).get("warm_start") and hasattr(fc, "estimator_"):
        est = fc.estimator_.set_params(**est.get_params(deep=False))
    try:
        fc.estimator_ = regressor.fit_estimator(est, Xw, Yw, fc._columns, embedding, decoder,
                                                n_static)
    except NoTrainingSamplesError as err:
        if fc.estimator is not None:
            raise  # a network the user configured is fitted as configured
        # the default network on few windows: early stopping's validation windows and
        # their gap would leave nothing to train on, so train on every window instead
        warnings.warn(f"{len(Xw)} training windows are too few for the default network's "
                      f"early stopping ({err}); it trains without it.", UserWarning,
                      stacklevel=4)
        est.set_params(early_stopping=False)
        fc.estimator_ = regressor.fit_estimator(est, Xw, Yw, fc._columns, embedding, decoder,
                                                n_static)
    fc.n_windows_ = len(Xw)
    fc._output_bounds = regressor.output_bounds(Yw, fc.clip_outputs)


def predictor(fc, group=None):
    return regressor.Predictor(fc.estimator_, fc._columns, group,
                               getattr(fc, "_output_bounds", None))


def forecast_values(fc, what, X, y, coverage=None):
    """``{None: (index, values, steps)}``: the forecast of the fitted series, values
    ``(horizon, n_targets, k)`` at the step numbers ``steps`` (``what``: see
    :data:`tsrnn._forecast.forecast.WHATS`)."""
    half = windows.half_width(fc.calibration_residuals_, coverage)
    A, F, pos, index, start = forecast_inputs(fc, fc._state, fc.targets_, fc.past_covariates_,
                                              fc.future_covariates_, X, y)
    values = series_forecast(fc, fc._state, predictor(fc), A, F, pos, len(fc.targets_), what,
                             half, start)[0]
    return {None: (index, values, forecast.step_numbers(fc, pos, start)[0])}


def frame_values(fc, out, what, levels=None):
    """The forecast frame of :func:`forecast_values`' output."""
    index, values, _ = out[None]
    cols, level = labels(what, levels)
    return frame(fc._state, fc.targets_, values, index, cols, level)


def predict(fc, what, X, y, coverage=None, levels=None):
    """The forecast frame of the fitted series (``what``: see
    :data:`tsrnn._forecast.forecast.WHATS`)."""
    return frame_values(fc, forecast_values(fc, what, X, y, coverage), what, levels)


def forecast_at(fc, A, F, pos, half=None):
    """(point, bounds) forecasts (len(pos), horizon, n_targets) of the fitted model from
    the windows of the series' arrays ``A``/``F`` ending at the positions ``pos`` (a
    backtest's origins); bounds from the conformal half-width ``half`` (None: none)."""
    return forecast.forecast_at(fc, fc._state, predictor(fc), A, F, pos, len(fc.targets_),
                                half)
