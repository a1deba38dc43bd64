"""Rolling-origin evaluation of forecasters (:func:`backtest`), and one model per series of a
panel (:func:`fit_many`, :func:`predict_many`, through joblib or a Dask cluster).

How to tune a forecaster
------------------------
Two ways, both honest about time order:

1. **Backtest over a parameter grid** (tunes the whole forecaster, lags and
   horizon included)::

       from sklearn.model_selection import ParameterGrid
       scores = {}
       for params in ParameterGrid({"cell": ["lstm", "gru"], "lags": [14, 28]}):
           fc = RNNForecaster(horizon=7, random_state=0, **params)
           scores[tuple(params.items())] = backtest(fc, y, initial=0.7).summary.loc[
               "mase", "forecaster"]
       best = min(scores, key=scores.get)

2. **GridSearchCV on windows** (tunes the network for fixed lags and
   horizon, in parallel, with any scikit-learn scorer)::

       from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
       Xw, yw = make_windows(df, target="temp_max", lags=14, horizon=7)
       cv = TimeSeriesSplit(n_splits=3, gap=7 - 1)   # no target overlaps a test window
       search = GridSearchCV(RNNRegressor(max_iter=50), {"hidden_size": [16, 32]}, cv=cv,
                             scoring=tsrnn.metrics.mae_scorer).fit(Xw, yw)

   ``gap=horizon - 1`` drops the training windows whose targets run into the
   test fold.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from tsrnn import metrics as _metrics
from tsrnn._many import fit_many, predict_many
from tsrnn._validation import check_float, check_int

__all__ = ["BacktestResult", "backtest", "fit_many", "predict_many"]

_METRICS = ("mae", "rmse", "mase", "rmsse", "smape")


@dataclass
class BacktestResult:
    """What :func:`backtest` returns.

    Attributes
    ----------
    forecasts : DataFrame
        One row per origin, step and target: ``origin``, ``time`` (the
        forecast timestamp), ``step``, ``target``, ``forecast`` (NaN only
        with ``missing="drop"`` where the window has a gap), ``actual``
        (NaN where the series is missing), the baselines ``naive`` (the last
        value) and ``seasonal_naive`` (the value one period ``m`` earlier)
        and, with ``coverage``, ``lower`` and ``upper``.
    summary : DataFrame
        Metrics (rows) of the ``forecaster``, ``naive`` and ``seasonal_naive``
        (columns) over the rows where all three and the actual are known,
        averaged over targets.
    fit_time, predict_time : float
        Seconds spent fitting and forecasting.
    n_fits : int
    """

    forecasts: pd.DataFrame
    summary: pd.DataFrame
    fit_time: float
    predict_time: float
    n_fits: int


def _resolve_initial(initial, n, minimum):
    if isinstance(initial, numbers.Real) and not isinstance(initial, numbers.Integral):
        frac = check_float("initial", initial, low=0, high=1, low_open=True, high_open=True)
        initial = int(frac * n)
    else:
        initial = check_int("initial", initial)
    if initial < minimum or initial > n - 1:
        raise ValueError(f"`initial`={initial} observations must be >= {minimum} (enough to fit) "
                         f"and leave at least one step to forecast in the {n} observations.")
    return initial


def _seasonal_naive(A, origins, h, m):
    """Seasonal naive forecasts: step ``j`` repeats the value ``m * ceil(j / m)`` steps earlier."""
    j = np.arange(1, h + 1)
    src = origins[:, None] + j - m * np.ceil(j / m).astype(int)
    out = A[np.clip(src, 0, None)]
    out[src < 0] = np.nan
    return out


def backtest(forecaster, y, X=None, *, initial, step=None, refit=False, m=1,
             metrics=_METRICS, coverage=None) -> BacktestResult:
    """Rolling-origin (expanding window) evaluation of a :class:`~tsrnn.RNNForecaster`.

    The first fit uses the first ``initial`` observations; forecasts of
    ``horizon`` steps are then made from every ``step``-th origin, each from
    the data up to that origin only (plus future-known covariates).

    Parameters
    ----------
    forecaster : RNNForecaster
        Cloned, never modified.
    y, X : as :meth:`RNNForecaster.fit`
    initial : int or float in (0, 1)
        Observations (or fraction of them) in the first training window.
    step : int, optional
        Steps between origins; default the forecaster's ``horizon``.
    refit : bool or int, default=False
        ``False``: one fit, reused for every origin (fast). ``True``: refit on
        the expanding window at every origin. An int ``k``: refit at every
        ``k``-th origin.
    m : int, default=1
        Seasonal period: of the seasonal naive baseline and of the MASE/RMSSE
        scale (computed on the first ``initial`` observations).
    metrics : list of str, default=("mae", "rmse", "mase", "rmsse", "smape")
    coverage : float in (0, 1), optional
        Also give :meth:`~RNNForecaster.predict_interval` bounds and report
        their empirical ``coverage`` and mean ``interval_width``.

    Returns
    -------
    BacktestResult
    """
    if getattr(forecaster, "_is_global", False):
        raise ValueError("backtest evaluates one series; `forecaster` is a global model "
                         "(global_model=True or series_id set). Backtest a single-series "
                         "forecaster, or one per series with fit_many.")
    h = check_int("horizon", forecaster.horizon)
    step = h if step is None else check_int("step", step)
    m = check_int("m", m)
    if isinstance(refit, (bool, np.bool_)):
        every = 1 if refit else None
    else:
        every = check_int("refit", refit)
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [x for x in names if x not in _METRICS]
    if unknown:
        raise ValueError(f"`metrics` has unknown names {unknown}; choose from {list(_METRICS)}.")
    if coverage is not None:
        coverage = check_float("coverage", coverage, low=0, high=1, low_open=True, high_open=True)
        if forecaster.calibration_fraction is None:
            raise ValueError("`coverage` needs intervals, but the forecaster has "
                             "`calibration_fraction`=None.")

    template = clone(forecaster)
    template._check_params()
    data, kind, _, past, future = template._prepare(y, X, fitting=True)
    n, n_t = len(data.raw), data.n_targets
    initial = _resolve_initial(initial, n, forecaster.lags + h + 1)
    origins = np.arange(initial - 1, n - h, step)
    if not len(origins):
        raise ValueError(f"No origin leaves `horizon`={h} steps after `initial`={initial} in the "
                         f"{n} observations.")
    A, F, Yraw = data.arrays()
    if every is None:
        blocks = [origins]
    else:
        blocks = [origins[i:i + every] for i in range(0, len(origins), every)]

    preds, lows, highs = [], [], []
    fit_time = predict_time = 0.0
    for block in blocks:
        end = block[0] + 1
        if kind[0] == "series":
            y_fit = pd.Series(data.raw.iloc[:end, 0].to_numpy(), index=data.raw.index[:end],
                              name=kind[1])
        else:
            y_fit = data.raw.iloc[:end, :n_t]
        X_fit = data.raw.iloc[:end][past + future] if (past or future) else None
        t0 = time.perf_counter()
        try:
            fc = clone(forecaster).fit(y_fit, X_fit)
        except ValueError as exc:
            if block is not blocks[0]:
                raise
            raise ValueError(f"The first fit, on `initial`={initial} observations, failed: {exc} "
                             "Raise `initial`.") from exc
        t1 = time.perf_counter()
        preds.append(fc._forecast(A, F, block))
        if coverage is not None:
            half = fc._half_width(coverage)
            lows.append(preds[-1] - half)
            highs.append(preds[-1] + half)
        predict_time += time.perf_counter() - t1
        fit_time += t1 - t0

    pred = np.concatenate(preds)                       # (n_origins, h, n_t)
    steps = origins[:, None] + np.arange(1, h + 1)
    actual = Yraw[steps]
    naive = _seasonal_naive(A[:, :n_t], origins, h, 1)
    seasonal = _seasonal_naive(A[:, :n_t], origins, h, m)
    index = data.raw.index
    targets = list(data.raw.columns[:n_t])
    cols = {
        "origin": np.repeat(index[origins], h * n_t),
        "time": np.repeat(index[steps.ravel()], n_t),
        "step": np.tile(np.repeat(np.arange(1, h + 1), n_t), len(origins)),
        "target": np.tile(np.array(targets, dtype=object), len(origins) * h),
        "forecast": pred.ravel(),
        "actual": actual.ravel(),
        "naive": naive.ravel(),
        "seasonal_naive": seasonal.ravel(),
    }
    bounds = (np.concatenate(lows), np.concatenate(highs)) if coverage is not None else None
    if bounds is not None:
        cols["lower"], cols["upper"] = bounds[0].ravel(), bounds[1].ravel()
    forecasts = pd.DataFrame(cols)

    summary = _summary(actual, {"forecaster": pred, "naive": naive, "seasonal_naive": seasonal},
                       bounds, Yraw[:initial], names, m)
    return BacktestResult(forecasts, summary, fit_time, predict_time, len(blocks))


def _summary(actual, forecasts, bounds, train, names, m):
    """Metrics of each forecast (label -> array like ``actual``, (origins, steps, targets)) per
    target, over the entries where the actual and every forecast are known; averaged over
    targets. ``bounds`` (lower, upper) of the forecaster add coverage and interval width."""
    known = np.isfinite(actual) & np.all([np.isfinite(f) for f in forecasts.values()], axis=0)
    table = {label: [] for label in forecasts}
    for c in range(actual.shape[2]):
        ok = known[..., c]
        a = actual[..., c][ok]
        for label, f in forecasts.items():
            values = dict.fromkeys(names, math.nan)
            if ok.any():
                for name in names:
                    fn = getattr(_metrics, name)
                    scaled = name in ("mase", "rmsse")
                    values[name] = fn(a, f[..., c][ok], y_train=train[:, c], m=m) if scaled \
                        else fn(a, f[..., c][ok])
                if label == "forecaster" and bounds is not None:
                    lo, hi = bounds[0][..., c][ok], bounds[1][..., c][ok]
                    values["coverage"] = _metrics.coverage(a, lo, hi)
                    values["interval_width"] = _metrics.interval_width(lo, hi)
            table[label].append(values)
    return pd.DataFrame({label: pd.DataFrame(rows).mean(axis=0) for label, rows in table.items()})
