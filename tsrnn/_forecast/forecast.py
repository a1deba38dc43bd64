"""One series' forecast from a fitted model, in its own units, and its frame.

Shared by the single-series forecaster and the global model: both keep a
:class:`~tsrnn._forecast.series.SeriesState` per series, and a forecast of a
series is the same computation for both (the single series' units are the
identity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsrnn._forecast import windows

WHATS = ("point", "interval", "quantiles")


def units_forecast(spec, state, predictor, A, F, pos, n_targets, start=0, *, quantiles=False):
    """(forecasts ``(len(pos), horizon, n_targets[, levels])`` of one series in the
    model's units, their step numbers ``(len(pos), horizon)``) from its arrays ``A``/``F``
    (targets in the series' own units; row 0 at step ``start``)."""
    units = windows.forecast(spec, predictor, state.targets_to_units(A, n_targets, start), F,
                             pos, n_targets, state.window_norm, quantiles=quantiles)
    return units, step_numbers(spec, pos, start)


def step_numbers(spec, pos, start=0):
    """The step numbers ``(len(pos), horizon)`` of the forecasts from the origins ``pos``
    of arrays whose row 0 is at step ``start`` (see
    :class:`~tsrnn._forecast.series.SeriesState`)."""
    return start + pos[:, None] + np.arange(1, spec.horizon + 1)


def bounds(state, units, half, steps):
    """(lower, upper) in the series' own units around forecasts ``units`` (model units, at
    step numbers ``steps``), from the conformal half-width ``half`` (model units)."""
    if state.log or state.mult:
        # built where the residuals were measured (the log or seasonally adjusted
        # scale) and mapped back: a monotone map keeps the interval's coverage
        return state.from_units(units - half, steps), state.from_units(units + half, steps)
    point = state.from_units(units, steps)
    width = half if state.scale == 1.0 else half * state.scale
    return point - width, point + width


def series_forecast(spec, state, predictor, A, F, pos, n_targets, what, half=None, start=0):
    """Forecast values ``(len(pos), horizon, n_targets, k)`` of one series in its own units.

    ``A``/``F`` are the series' arrays (targets in its own units, row 0 at step
    ``start``); ``what`` is "point" (k = 1), "interval" (k = 2: lower, upper
    from the conformal half-width ``half``, given in the model's units) or
    "quantiles" (k = levels).
    """
    units, steps = units_forecast(spec, state, predictor, A, F, pos, n_targets, start,
                                  quantiles=what == "quantiles")
    if what == "quantiles":
        return state.from_units(units, steps)
    if what == "interval":
        return np.stack(bounds(state, units, half, steps), axis=3)
    return state.from_units(units, steps)[..., None]


def forecast_at(spec, state, predictor, A, F, pos, n_targets, half=None, start=0):
    """(point, bounds) forecasts ``(len(pos), horizon, n_targets)`` of one series from the
    windows ending at the positions ``pos`` (a backtest's origins; row 0 of ``A`` at
    step ``start``); ``bounds`` is (lower, upper) from the half-width ``half``, or None
    without it."""
    units, steps = units_forecast(spec, state, predictor, A, F, pos, n_targets, start)
    return (state.from_units(units, steps),
            None if half is None else bounds(state, units, half, steps))


def frame(state, targets, values, index, labels, level_name=None):
    """A (horizon, n_targets, k) array as the forecast of a fitted Series or DataFrame.

    Point forecasts (``labels`` None) come back like ``y``: a Series named as
    it was, or a frame of the targets; otherwise columns ``labels`` (a
    Series was fitted) or ``(target, label)``.
    """
    if labels is None:
        if state.kind == "series":
            return pd.Series(values[:, 0, 0], index=index, name=state.name)
        return pd.DataFrame(values[..., 0], index=index, columns=pd.Index(targets))
    if state.kind == "series":
        return pd.DataFrame(values[:, 0, :], index=index,
                            columns=pd.Index(labels, name=level_name))
    cols = pd.MultiIndex.from_product([targets, labels], names=[None, level_name])
    return pd.DataFrame(values.reshape(len(index), -1), index=index, columns=cols)


def check_finite(out, what):
    """Refuse a forecast frame that is not finite everywhere (a forecast is numbers or an
    error, never NaN): the network's output or the inverse of a transform overflowed."""
    values = out.to_numpy(dtype=np.float64).reshape(len(out), -1)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"The {what} forecast at {out.index[row]} is {float(values[row, col])}: "
            "the model's output overflowed in the series' units (values too large for the "
            "network's dtype, or a log or multiplicative transform that cannot be inverted). "
            "Rescale the series or give the estimator `dtype=numpy.float64`.")
    return out


def labels(what, levels):
    """Column labels of a forecast frame and the name of their level."""
    if what == "point":
        return None, None
    if what == "interval":
        return ["lower", "upper"], None
    return list(levels), "quantile"
