"""The single-series forecaster: one series (one or several joint targets), one estimator.

:func:`fit` sets the forecaster's fitted attributes (``estimator_``,
``targets_``, covariates, ``axis_``, ``calibration_residuals_``,
``n_windows_``) and its one :class:`~tsrnn._forecast.series.SeriesState`;
:func:`predict` forecasts from the end of the fitted series or from a newer
history of it.
"""

from __future__ import annotations

from tsrnn._forecast import regressor, windows
from tsrnn._forecast.forecast import frame, labels, series_forecast
from tsrnn._forecast.series import SeriesState, check_length, forecast_inputs, prepare, span


def fit(fc, y, X):
    """Fit the forecaster ``fc`` on one series."""
    prep = prepare(fc, y, X)
    data = prep.data
    check_length(fc, data, prep.future, "`y`")
    n_t = data.n_targets
    targets = list(data.raw.columns[:n_t])
    A, F, Yraw = data.arrays()
    cal = windows.calibration_origins(fc, len(A))
    Xw, Yw, _ = windows.training_windows(fc, A, F, Yraw, n_t, cal)
    if len(Xw) < 2:
        raise ValueError(f"Only {len(Xw)} complete training windows of `lags`={fc.lags} "
                         f"+ {windows.train_steps(fc)} steps in `y` ({span(data.raw.index)}; "
                         f"{len(cal)} windows held out for calibration).")
    fc.targets_ = targets
    fc.past_covariates_, fc.future_covariates_ = prep.past, prep.future
    fc.axis_ = prep.axis
    fc._state = SeriesState(prep.axis, prep.kind, prep.name, data.filled.iloc[-fc.lags:].copy())
    fc._columns = regressor.window_columns(fc, targets + prep.past, prep.future,
                                           windows.train_steps(fc))
    fit_estimator(fc, Xw, Yw)
    fc.calibration_residuals_ = windows.residuals(fc, predictor(fc), A, F, Yraw, cal, n_t)
    return fc


def fit_estimator(fc, Xw, Yw, *, extra_gap=0, embedding=None):
    """Fit a clone of the forecaster's estimator on the windows (continuing the fitted
    one when its ``warm_start`` is set)."""
    est = regressor.prepare_estimator(fc, windows.train_steps(fc), extra_gap=extra_gap,
                                      random_state=fc.random_state)
    if est.get_params(deep=False).get("warm_start") and hasattr(fc, "estimator_"):
        est = fc.estimator_.set_params(**est.get_params(deep=False))
    fc.estimator_ = regressor.fit_estimator(est, Xw, Yw, fc._columns, embedding)
    fc.n_windows_ = len(Xw)


def predictor(fc, group=None):
    return regressor.Predictor(fc.estimator_, fc._columns, group)


def predict(fc, what, X, y, coverage=None, levels=None):
    """The forecast frame of the fitted series (``what``: see
    :data:`tsrnn._forecast.forecast.WHATS`)."""
    half = windows.half_width(fc.calibration_residuals_, coverage) if what == "interval" \
        else None
    A, F, pos, index = forecast_inputs(fc, fc._state, fc.targets_, fc.past_covariates_,
                                       fc.future_covariates_, X, y)
    values = series_forecast(fc, fc._state, predictor(fc), A, F, pos, len(fc.targets_), what,
                             half)[0]
    cols, level = labels(what, levels)
    return frame(fc._state, fc.targets_, values, index, cols, level)


def forecast_at(fc, A, F, pos):
    """Forecasts (len(pos), horizon, n_targets) of the fitted model from the windows of the
    series' arrays ``A``/``F`` ending at the positions ``pos`` (a backtest's origins)."""
    return windows.forecast(fc, predictor(fc), A, F, pos, len(fc.targets_))
