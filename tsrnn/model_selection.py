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
from tsrnn._forecast import global_model, static, windows
from tsrnn._forecast.series import prepare
from tsrnn._many import fit_many, predict_many
from tsrnn._validation import check_float, check_int
from tsrnn.panel import series_error, split_covariates

__all__ = ["BacktestResult", "backtest", "fit_many", "predict_many"]

_METRICS = ("mae", "rmse", "mase", "rmsse", "smape")


@dataclass
class BacktestResult:
    """What :func:`backtest` returns.

    Attributes
    ----------
    forecasts : DataFrame
        One row per origin, step and target (and, for a global model, a
        ``series`` column first): ``origin``, ``time`` (the
        forecast timestamp), ``step``, ``target``, ``forecast`` (NaN only
        with ``missing="drop"`` where the window has a gap), ``actual``
        (NaN where the series is missing), the baselines ``naive`` (the last
        value) and ``seasonal_naive`` (the value one period ``m`` earlier)
        and, with ``coverage``, ``lower`` and ``upper``.
    summary : DataFrame
        Metrics (rows) of the ``forecaster``, ``naive`` and ``seasonal_naive``
        (columns) over the rows where all three and the actual are known,
        averaged over targets (for a global model: computed per series, each
        scaled by its own history, then averaged over the series).
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

    A global model (``global_model=True`` or ``series_id``) is backtested on
    its panel: the origins are time points (of the union of the series'
    timestamps), every fit sees each series up to the origin, and every
    series is forecast from every origin it has ``lags`` observations before
    and ``horizon`` steps after.

    Parameters
    ----------
    forecaster : RNNForecaster
        Cloned, never modified.
    y, X : as :meth:`RNNForecaster.fit`
    initial : int or float in (0, 1)
        Observations (or fraction of them) in the first training window; for
        a panel, time points of the union of the series' timestamps.
    step : int, optional
        Steps between origins (at most the series' length); default the
        forecaster's ``horizon``.
    refit : bool or int, default=False
        ``False``: one fit, reused for every origin (fast). ``True``: refit on
        the expanding window at every origin. An int ``k``: refit at every
        ``k``-th origin.
    m : int, default=1
        Seasonal period: of the seasonal naive baseline and of the MASE/RMSSE
        scale (computed on the first ``initial`` observations, so less than
        ``initial``).
    metrics : list of str, default=("mae", "rmse", "mase", "rmsse", "smape")
        None: the default.
    coverage : float in (0, 1), optional
        Also give :meth:`~RNNForecaster.predict_interval` bounds and report
        their empirical ``coverage`` and mean ``interval_width``.

    Returns
    -------
    BacktestResult
    """
    if not callable(getattr(forecaster, "_template", None)):
        raise TypeError(f"`forecaster` must be an RNNForecaster or RNNEnsembleForecaster, got "
                        f"{type(forecaster).__name__}: {forecaster!r:.80}.")
    template = forecaster._template()
    h = check_int("horizon", template.horizon)
    step = h if step is None else check_int("step", step)
    m = check_int("m", m)
    if isinstance(refit, (bool, np.bool_)):
        every = 1 if refit else None
    else:
        every = check_int("refit", refit)
    if metrics is None:
        metrics = _METRICS
    if not isinstance(metrics, str) and not _iterable(metrics):
        raise TypeError(f"`metrics`={metrics!r} must be None, a metric name or a list of "
                        f"them from {list(_METRICS)}.")
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [x for x in names if x not in _METRICS]
    if unknown:
        raise ValueError(f"`metrics` has unknown names {unknown}; choose from {list(_METRICS)}.")
    if coverage is not None:
        coverage = check_float("coverage", coverage, low=0, high=1, low_open=True, high_open=True)
        if template.calibration_fraction is None:
            raise ValueError("`coverage` needs intervals, but the forecaster has "
                             "`calibration_fraction`=None.")
    run = _backtest_panel if template._is_global else _backtest_series
    return run(forecaster, template, y, X, initial, step, every, m, names, coverage)


def _iterable(value):
    try:
        iter(value)
    except TypeError:
        return False
    return True


def _check_span(step, m, initial, n):
    """``step`` and ``m`` against the series: origins are at most ``n`` steps apart, and the
    seasonal baseline and the MASE/RMSSE scale need a season within the first fit."""
    if step > n:
        raise ValueError(f"`step`={step} must be at most the {n} observations of `y`.")
    if m >= initial:
        raise ValueError(f"`m`={m} must be less than `initial`={initial} observations: the "
                         "seasonal naive baseline and the MASE/RMSSE scale compare values `m` "
                         "steps apart within the first fit.")


def _blocks(origins, every):
    """Origins grouped by the fit that forecasts them."""
    if every is None:
        return [origins]
    return [origins[i:i + every] for i in range(0, len(origins), every)]


def _fit_first(forecaster, y_fit, X_fit, first, initial):
    try:
        return clone(forecaster).fit(y_fit, X_fit)
    except ValueError as exc:
        if not first:
            raise
        raise ValueError(f"The first fit, on `initial`={initial} observations, failed: {exc} "
                         "Raise `initial`.") from exc


def _backtest_series(forecaster, template, y, X, initial, step, every, m, names, coverage):
    h = template.horizon
    prep = prepare(template, y, X)
    data, past, future = prep.data, prep.past, prep.future
    n, n_t = len(data.raw), data.n_targets
    initial = _resolve_initial(initial, n, windows.fewest_lags(template) + h + 1)
    _check_span(step, m, initial, n)
    origins = np.arange(initial - 1, n - h, step)
    if not len(origins):
        raise ValueError(f"No origin leaves `horizon`={h} steps after `initial`={initial} in the "
                         f"{n} observations.")
    A, F, Yraw = data.arrays()
    blocks = _blocks(origins, every)
    preds, lows, highs = [], [], []
    fit_time = predict_time = 0.0
    for block in blocks:
        end = block[0] + 1
        if prep.kind == "series":
            y_fit = pd.Series(data.raw.iloc[:end, 0].to_numpy(), index=data.raw.index[:end],
                              name=prep.name)
        else:
            y_fit = data.raw.iloc[:end, :n_t]
        X_fit = data.raw.iloc[:end][past + future] if (past or future) else None
        t0 = time.perf_counter()
        fc = _fit_first(forecaster, y_fit, X_fit, block is blocks[0], initial)
        t1 = time.perf_counter()
        point, bounds = fc._forecast_at(A, F, block, fc._half_width(coverage))
        preds.append(point)
        if bounds is not None:
            lows.append(bounds[0])
            highs.append(bounds[1])
        predict_time += time.perf_counter() - t1
        fit_time += t1 - t0

    pred = np.concatenate(preds)                       # (n_origins, h, n_t)
    bounds = (np.concatenate(lows), np.concatenate(highs)) if coverage is not None else None
    forecasts, arrays = _frame(data, origins, pred, bounds, h, m)
    summary = _summary(*arrays, bounds, Yraw[:initial], names, m)
    return BacktestResult(forecasts, summary, fit_time, predict_time, len(blocks))


def _frame(data, origins, pred, bounds, h, m):
    """The forecasts table of one series, and the arrays its summary needs."""
    n_t = data.n_targets
    A, _, Yraw = data.arrays()
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
    if bounds is not None:
        cols["lower"], cols["upper"] = bounds[0].ravel(), bounds[1].ravel()
    arrays = (actual, {"forecaster": pred, "naive": naive, "seasonal_naive": seasonal})
    return pd.DataFrame(cols), arrays


def _backtest_panel(forecaster, template, y, X, initial, step, every, m, names, coverage):
    """Rolling origins in time over a panel, for a global model."""
    h, lags = template.horizon, windows.fewest_lags(template)
    panel = global_model.panel_series(template, y)
    ids = list(panel)
    covariates = split_covariates(X, ids, template.series_id)
    prepared = {}
    for sid in ids:
        try:
            prepared[sid] = prepare(template, panel[sid], covariates[sid])
        except (TypeError, ValueError) as err:
            raise series_error(err, sid) from None
    statics = static.raw_values(template, covariates, ids)
    times = prepared[ids[0]].data.raw.index
    for sid in ids[1:]:
        times = times.union(prepared[sid].data.raw.index)
    n = len(times)
    initial = _resolve_initial(initial, n, lags + h + 1)
    _check_span(step, m, initial, n)
    origin_times = times[initial - 1:n - h:step]
    if not len(origin_times):
        raise ValueError(f"No origin leaves `horizon`={h} steps after `initial`={initial} in the "
                         f"{n} time points of the panel.")
    # each series' own positions of the origins it can be forecast from
    positions = {}
    for sid in ids:
        index = prepared[sid].data.raw.index
        pos = index.get_indexer(origin_times)
        positions[sid] = np.where((pos >= 0) & (pos + h <= len(index) - 1), pos, -1)
    blocks = _blocks(np.arange(len(origin_times)), every)
    preds = {sid: [] for sid in ids}
    fit_time = predict_time = 0.0
    for block in blocks:
        t_fit = origin_times[block[0]]
        train = {sid: prepared[sid].data.raw.loc[:t_fit] for sid in ids}
        # a series without observations yet joins the panel at a later refit; a short
        # one is padded by the global model like any short series
        keep = [sid for sid in ids if len(train[sid])]
        if not any(len(train[sid]) >= lags + h for sid in keep):
            raise ValueError(f"No series has `lags` + `horizon` = {lags + h} observations up to "
                             f"the first origin {t_fit}; raise `initial`.")
        y_fit = {sid: train[sid].iloc[:, 0] for sid in keep}
        X_fit = None
        if prepared[ids[0]].past or prepared[ids[0]].future or statics:
            # the grid's covariates, and each series' static values over its rows
            X_fit = {sid: static.with_values(train[sid].iloc[:, 1:], statics.get(sid))
                     for sid in keep}
        t0 = time.perf_counter()
        fc = _fit_first(forecaster, y_fit, X_fit, block is blocks[0], initial)
        t1 = time.perf_counter()
        half = fc._half_width(coverage)
        for sid in keep:
            pos = positions[sid][block]
            ok = pos >= 0
            if not ok.any():
                continue
            A, F, _ = prepared[sid].data.arrays()
            point, bounds = fc._forecast_at(A, F, pos[ok], half, sid)
            preds[sid].append((block[ok], point, bounds))
        predict_time += time.perf_counter() - t1
        fit_time += t1 - t0
    frames, tables = [], []
    for sid in ids:
        if not preds[sid]:
            continue
        which = np.concatenate([b for b, _, _ in preds[sid]])
        pred = np.concatenate([p for _, p, _ in preds[sid]])
        bounds = None
        if coverage is not None:
            bounds = (np.concatenate([b[0] for _, _, b in preds[sid]]),
                      np.concatenate([b[1] for _, _, b in preds[sid]]))
        data = prepared[sid].data
        frame, arrays = _frame(data, positions[sid][which], pred, bounds, h, m)
        frame.insert(0, "series", sid)
        frames.append(frame)
        scale_rows = data.raw.index <= origin_times[0]
        tables.append(_summary(*arrays, bounds, data.arrays()[2][scale_rows], names, m))
    if not frames:
        raise ValueError("No series could be forecast from any origin: each needs `lags` "
                         "observations before an origin and `horizon` steps after it.")
    summary = pd.concat(tables).groupby(level=0, sort=False).mean()
    return BacktestResult(pd.concat(frames, ignore_index=True), summary, fit_time,
                          predict_time, len(blocks))


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
