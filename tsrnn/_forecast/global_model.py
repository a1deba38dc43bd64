"""One model across many series: the global mode of :class:`~tsrnn.RNNForecaster`.

Each series goes through the same preparation as a single series (its own
grid, missing values and covariates, :func:`~tsrnn._forecast.series.prepare`)
and keeps its own :class:`~tsrnn._forecast.series.SeriesState`; its target is
scaled by its own spread; its windows are stacked with every other series'
windows in time order, and one estimator is trained on them.  A series
encoding tells the estimator which series a window is from: one-hot channels,
or a learned embedding row of the network.  Forecasts are the single-series
forecasts of each state, scaled back.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tsrnn._forecast import regressor, single, windows
from tsrnn._forecast.forecast import labels, series_forecast
from tsrnn._forecast.series import SeriesState, check_length, forecast_inputs, prepare
from tsrnn._validation import NoTrainingSamplesError, check_random_state
from tsrnn.panel import series_error, split_covariates, split_panel, stack_forecasts
from tsrnn.windowing import window_positions


def _time_kind(index):
    if isinstance(index, pd.DatetimeIndex):
        return f"timestamps, tz={index.tz}"
    return "integer steps"


def _spread(values, window_norm):
    """(loc, scale) of one series' target: first differences' spread with ``window_norm``."""
    values = values[np.isfinite(values)]
    if window_norm == "last":
        loc, spread = 0.0, np.std(np.diff(values)) if len(values) > 2 else 0.0
    else:
        loc, spread = float(np.mean(values)), float(np.std(values))
    return loc, (float(spread) if np.isfinite(spread) and spread > 0 else 1.0)


def panel_series(fc, y, what="y"):
    """``{id: Series}`` of a panel: one target per series."""
    out = {}
    for sid, s in split_panel(y, fc.series_id, what=what).items():
        if isinstance(s, pd.DataFrame):
            if s.shape[1] != 1:
                raise ValueError(
                    f"series {sid!r}: a global model forecasts one target per series, but "
                    f"`{what}` has columns {list(s.columns)}; pass covariates in `X`.")
            s = s.iloc[:, 0]
        out[sid] = s
    return out


def _target_name(fc, panel):
    if fc.series_id is not None:
        names = {s.name for s in panel.values()}
        if len(names) == 1:
            return names.pop()
    return "y"


def _prepare_series(fc, sid, y, X):
    """One series through the single-series preparation, with its forecast origins."""
    try:
        prep = prepare(fc, y, X)
        check_length(fc, prep.data, prep.future, "the series")
    except (TypeError, ValueError) as err:
        raise series_error(err, sid) from None
    origins = window_positions(len(prep.data.raw), fc.lags, fc.horizon, 1)
    return prep, origins, prep.data.raw.index[origins]


def _calibration_cut(fc, times):
    """The first calibration origin time, shared by every series: the last
    ``calibration_fraction`` of all series' forecast origins, pooled in time, so that
    no series trains on a period another series calibrates on."""
    if fc.calibration_fraction is None:
        return None
    pooled = np.sort(np.concatenate([t.to_numpy() for t in times]))
    n_cal = math.ceil(fc.calibration_fraction * len(pooled))
    return pooled[len(pooled) - n_cal] if n_cal else None


def _stats_rows(fc, n, cal):
    """Rows a series' scaling may look at: up to its first calibration origin (no
    calibration target), minus the early-stopping validation share."""
    rows = int(cal[0]) + 1 if len(cal) else n
    est = fc.estimator if fc.estimator is not None else regressor.default_estimator()
    params = est.get_params(deep=False)
    if params.get("early_stopping"):
        rows = fc.lags + int((rows - fc.lags) * (1 - params.get("validation_fraction", 0.1)))
    return rows if rows >= 3 else n


def _initial_embedding(fc, n_series):
    dim = fc.embedding_dim or min(16, math.ceil(math.sqrt(n_series)))
    est = fc.estimator if fc.estimator is not None else regressor.default_estimator()
    dtype = np.dtype(est.get_params(deep=False).get("dtype", np.float32))
    if getattr(est, "warm_start", False) and getattr(fc, "series_embedding_", None) is not None \
            and fc.series_embedding_.shape == (n_series, dim):
        return fc.series_embedding_
    # a generator of its own, seeded from random_state, so that the network's
    # initial weights are the same with and without an embedding
    seed = check_random_state(_seed(fc, est)).randint(np.iinfo(np.int32).max)
    return (np.random.RandomState(seed).standard_normal((n_series, dim)) * 0.1).astype(dtype)


def _seed(fc, est):
    """The forecaster's random_state, else its estimator's."""
    if fc.random_state is not None:
        return fc.random_state
    return est.get_params(deep=False).get("random_state")


def encoded(fc, F, state):
    """``F`` with the series' one-hot code appended as constant channels (with
    ``series_encoding="onehot"``)."""
    if fc.series_encoding != "onehot":
        return F
    code = np.zeros((len(F), len(fc.series_ids_)))
    code[:, state.code] = 1.0
    return np.concatenate([F, code], axis=1)


def predictor(fc, state):
    """Windows of the series of ``state`` to the fitted estimator."""
    group = state.code if fc.series_encoding == "embedding" else None
    return single.predictor(fc, group)


def fit(fc, y, X):
    """Fit the forecaster ``fc`` as one model over the series of the panel ``y``."""
    panel = panel_series(fc, y)
    ids = list(panel)
    covariates = split_covariates(X, ids, fc.series_id)
    name = _target_name(fc, panel)
    fc.targets_ = [name]
    fc.series_ids_ = ids
    fc._layout = "long" if fc.series_id is not None or isinstance(y, dict) else "wide"
    prepared = [_prepare_series(fc, sid, panel[sid].rename(name), covariates[sid]) for sid in ids]
    first = prepared[0][0]
    for sid, (prep, _, _) in zip(ids, prepared):
        if _time_kind(prep.data.raw.index) != _time_kind(first.data.raw.index):
            raise TypeError(
                f"series {sid!r}: its time index ({_time_kind(prep.data.raw.index)}) "
                f"differs from series {ids[0]!r}'s ({_time_kind(first.data.raw.index)});"
                " a global model needs one kind of time for all series.")
    fc.past_covariates_, fc.future_covariates_ = first.past, first.future
    fc.axis_ = first.axis
    onehot = [f"series[{sid}]" for sid in ids] if fc.series_encoding == "onehot" else []
    fc._columns = regressor.window_columns(fc, [name] + first.past, first.future + onehot,
                                           windows.train_steps(fc))
    cut = _calibration_cut(fc, [times for _, _, times in prepared])
    table = _initial_embedding(fc, len(ids)) if fc.series_encoding == "embedding" else None
    fc._states = {}
    parts, origin_times, residual_parts, codes = [], [], [], []
    for code, (sid, (prep, origins, times)) in enumerate(zip(ids, prepared)):
        data = prep.data
        A, F, Yraw = data.arrays()
        cal = origins[times >= cut] if cut is not None else origins[:0]
        loc, scale = _spread(A[:_stats_rows(fc, len(A), cal), 0], fc.window_norm)
        state = SeriesState(prep.axis, prep.kind, prep.name, data.filled.iloc[-fc.lags:].copy(),
                            loc, scale, code)
        fc._states[sid] = state
        A = A.copy()
        A[:, 0] = state.to_units(A[:, 0])
        Yraw = state.to_units(Yraw)
        Xw, Yw, train = windows.training_windows(fc, A, encoded(fc, F, state), Yraw, 1, cal)
        parts.append((Xw, Yw))
        origin_times.append(data.raw.index[train].to_numpy())
        codes.append(np.full(len(Xw), code))
        residual_parts.append((state, A, F, Yraw, cal))
    n_windows = sum(len(Xw) for Xw, _ in parts)
    if n_windows < 2:
        raise ValueError(f"Only {n_windows} complete training windows in the panel of "
                         f"{len(ids)} series.")
    # time order across series, so that early stopping validates on the latest windows
    order = np.argsort(np.concatenate(origin_times), kind="stable")
    Xw = np.concatenate([p[0] for p in parts])[order]
    Yw = np.concatenate([p[1] for p in parts])[order]
    embedding = None if table is None else (table, np.concatenate(codes)[order])
    gap = (windows.train_steps(fc) - 1) * len(ids)
    try:
        single.fit_estimator(fc, Xw, Yw, extra_gap=gap, embedding=embedding)
    except NoTrainingSamplesError as err:
        raise NoTrainingSamplesError(
            f"{err} With a global model the gap is (horizon - 1) x n_series = {gap} windows, "
            "so that no validation target is trained on; lower `validation_fraction` or use "
            "early_stopping=False.") from None
    fc.series_embedding_ = None if table is None else fc.estimator_.network_.embedding.copy()
    residuals = [windows.residuals(fc, predictor(fc, state), A, encoded(fc, F, state), Yraw,
                                   cal, 1)
                 for state, A, F, Yraw, cal in residual_parts]
    residuals = [r for r in residuals if r is not None]
    fc.calibration_residuals_ = np.concatenate(residuals) if residuals else None
    return fc


def _series_state(fc, sid, history):
    """A fitted series' state, or (without a series encoding) a new series' own."""
    if sid in fc._states:
        return fc._states[sid]
    if fc.series_encoding is not None:
        raise ValueError(f"series {sid!r} was not seen at fit; with "
                         f"`series_encoding`={fc.series_encoding!r} only the fitted "
                         f"series {fc.series_ids_[:5]}... can be forecast.")
    if fc.past_covariates_ or fc.future_covariates_:
        raise ValueError(f"series {sid!r} was not seen at fit; a new series can be forecast "
                         "only by a model without covariates.")
    prep = prepare(fc, history, None)
    loc, scale = _spread(prep.data.arrays()[0][:, 0], fc.window_norm)
    return SeriesState(prep.axis, prep.kind, prep.name, prep.data.filled.iloc[-fc.lags:],
                       loc, scale)


def predict(fc, what, X, y, coverage=None, levels=None):
    """Forecasts of every series (see :data:`tsrnn._forecast.forecast.WHATS`), framed
    like the fitted panel."""
    name = fc.targets_[0]
    histories = {} if y is None else {sid: s.rename(name)
                                      for sid, s in panel_series(fc, y).items()}
    ids = list(fc.series_ids_) + [sid for sid in histories if sid not in fc._states]
    covariates = split_covariates(X, ids, fc.series_id)
    half = windows.half_width(fc.calibration_residuals_, coverage) if what == "interval" \
        else None
    out = {}
    for sid in ids:
        try:
            state = _series_state(fc, sid, histories.get(sid))
            A, F, pos, index = forecast_inputs(fc, state, fc.targets_, fc.past_covariates_,
                                               fc.future_covariates_, covariates[sid],
                                               histories.get(sid))
        except (TypeError, ValueError) as err:
            raise series_error(err, sid) from None
        values = series_forecast(fc, state, predictor(fc, state), A, encoded(fc, F, state),
                                 pos, 1, what, half)[0]
        out[sid] = (index, values[:, 0, :])
    cols, level = labels(what, levels)
    return _panel_frame(fc, out, [name] if cols is None else cols, level, what)


def _panel_frame(fc, out, cols, level, what):
    """Wide panels come back wide (time x series); long ones long, by (series, time)."""
    frames = {sid: pd.DataFrame(v, index=ix, columns=pd.Index(cols, name=level))
              for sid, (ix, v) in out.items()}
    if fc._layout != "wide":
        return stack_forecasts(frames, series_name="series" if fc.series_id is None
                               else fc.series_id)
    if what == "point":
        return pd.DataFrame({sid: f.iloc[:, 0] for sid, f in frames.items()})
    wide = pd.concat(frames, axis=1)
    wide.columns.names = [None, level]
    return wide


def forecast_at(fc, sid, A, F, pos):
    """Forecasts (len(pos), horizon, 1) of series ``sid`` (fitted) from the windows of its
    arrays ``A``/``F`` (own units) ending at the positions ``pos`` (a backtest's origins)."""
    state = fc._states[sid]
    return series_forecast(fc, state, predictor(fc, state), A, encoded(fc, F, state), pos, 1,
                           "point")[..., 0]
