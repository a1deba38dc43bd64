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

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd

from tsrnn._forecast import forecast, regressor, scaling, single, static, windows
from tsrnn._forecast.forecast import labels, series_forecast
from tsrnn._forecast.series import (
    check_covariate_lags,
    forecast_inputs,
    pad_start,
    prepare,
)
from tsrnn._validation import NoTrainingSamplesError, check_allocation, check_random_state
from tsrnn.panel import series_error, split_covariates, split_panel, stack_forecasts
from tsrnn.windowing import check_window_memory, window_positions


def _time_kind(index):
    if isinstance(index, pd.DatetimeIndex):
        return f"timestamps, tz={index.tz}"
    return "integer steps"


def _spread(values, norm):
    """(loc, scale) of one series' target (model units before scaling): its first
    differences' spread when windows are normalised (``norm``), else its levels'."""
    values = values[np.isfinite(values)]
    if norm is not None:
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


def _prepare_series(fc, sid, y, X, axis=None):
    """One series through the single-series preparation.  ``axis``: the panel's time
    axis, for a series too short to show its own frequency."""
    try:
        prep = prepare(fc, y, X, axis=axis if len(y) < 3 and fc.freq is None else None)
        if not len(prep.data.raw):
            raise ValueError("the series is empty.")
    except (TypeError, ValueError) as err:
        raise series_error(err, sid) from None
    return prep


def _placed(fc, sid, prep):
    """(prep, padding, forecast origins, their times) of a prepared series: its padding
    (see :func:`_padding`), its origins as positions in the padded arrays."""
    try:
        check_covariate_lags(fc, prep.future)
    except (TypeError, ValueError) as err:
        raise series_error(err, sid) from None
    n = len(prep.data.raw)
    pad = _padding(fc, n)
    origins = window_positions(n + pad, fc.lags_, fc.horizon, 1)
    return prep, pad, origins, prep.data.raw.index[origins - pad]


def _check_panel_memory(fc, prepared):
    """Refuse, before any is built, the panel's windows beyond the memory budget: every
    series' windows, then all of them joined and put in time order."""
    prep = prepared[0][0]
    channels = 1 + len(prep.past) + len(prep.future) + static.size(fc) + \
        (len(prepared) if fc.series_encoding == "onehot" else 0)
    n_windows = sum(len(origins) for _, _, origins, _ in prepared)
    advice = "Lower `lags`, or fit fewer or shorter series (or use fit_many)"
    if fc.series_encoding == "onehot":
        advice += "; with many series, series_encoding='embedding' adds far fewer channels"
    check_window_memory(n_windows, *windows.estimator_window(fc, channels),
                        f"The training windows of the panel's {len(prepared)} series", copies=3,
                        advice=advice + ".")


def _padding(fc, n):
    """Rows put in front of a series of ``n`` observations: none when it has ``lags +
    horizon``; else ``lags - 1``, so that every origin with ``horizon`` targets after it
    is a window (its start made flat by :func:`~tsrnn._forecast.series.pad_start`)."""
    return 0 if n >= fc.lags_ + fc.horizon else fc.lags_ - 1


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
        rows = fc.lags_ + int((rows - fc.lags_) * (1 - params.get("validation_fraction", 0.1)))
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
    check_allocation(f"`embedding_dim`={dim} for {n_series} series", n_series * dim * 8 * 3)
    seed = check_random_state(_seed(fc, est)).randint(np.iinfo(np.int32).max)
    return (np.random.RandomState(seed).standard_normal((n_series, dim)) * 0.1).astype(dtype)


def _seed(fc, est):
    """The forecaster's random_state, else its estimator's."""
    if fc.random_state is not None:
        return fc.random_state
    return est.get_params(deep=False).get("random_state")


def encoded(fc, F, state):
    """``F`` with the series' one-hot code (``series_encoding="onehot"``) and then its
    static covariates appended as constant channels."""
    if fc.series_encoding == "onehot":
        code = np.zeros((len(F), len(fc.series_ids_)))
        code[:, state.code] = 1.0
        F = np.concatenate([F, code], axis=1)
    return static.appended(fc, F, state.code)


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
    # the panel's time axis, from its first series long enough to show it
    shown = next((sid for sid in ids if len(panel[sid]) >= 3), ids[0])
    done = {shown: _prepare_series(fc, shown, panel[shown].rename(name), covariates[shown])}
    axis = done[shown].axis
    preps = [done.get(sid) or _prepare_series(fc, sid, panel[sid].rename(name),
                                              covariates[sid], axis) for sid in ids]
    fc.lags_ = windows.resolve_lags(fc, scaling.season_length(fc, axis),
                                    max(len(p.data.raw) for p in preps), panel=True)
    prepared = [_placed(fc, sid, prep) for sid, prep in zip(ids, preps)]
    first = prepared[0][0]
    for sid, (prep, _, _, _) in zip(ids, prepared):
        if _time_kind(prep.data.raw.index) != _time_kind(first.data.raw.index):
            raise TypeError(
                f"series {sid!r}: its time index ({_time_kind(prep.data.raw.index)}) "
                f"differs from series {ids[0]!r}'s ({_time_kind(first.data.raw.index)});"
                " a global model needs one kind of time for all series.")
    frame = static.static_frame(fc, covariates, ids)
    static.check_warm_start(fc, frame)
    fc.static_ = frame
    _check_panel_memory(fc, prepared)
    fc.past_covariates_, fc.future_covariates_ = first.past, first.future
    fc.axis_ = first.axis
    onehot = [f"series[{sid}]" for sid in ids] if fc.series_encoding == "onehot" else []
    statics = [] if fc.static_ is None else list(fc.static_.columns)
    fc._columns = regressor.window_columns(fc, [name] + first.past,
                                           first.future + onehot + statics,
                                           windows.train_steps(fc))
    cut = _calibration_cut(fc, [times for _, _, _, times in prepared])
    table = _initial_embedding(fc, len(ids)) if fc.series_encoding == "embedding" else None
    fc._states = {}
    parts, origin_times, residual_parts, codes, untrained = [], [], [], [], []
    fallen = {param: [] for param in scaling.FALLBACKS}
    for code, (sid, (prep, pad, origins, times)) in enumerate(zip(ids, prepared)):
        data = prep.data
        A, F, Yraw = data.arrays()
        known = A[:, :1]
        A, F = pad_start(A, pad), pad_start(F, pad)
        Yraw = np.concatenate([np.full((pad, 1), np.nan), Yraw])
        own = Yraw
        cal = origins[times >= cut] if cut is not None else origins[:0]
        rows = _stats_rows(fc, len(A), cal)
        state, notes = _scaled_state(fc, sid, prep, A[pad:max(rows, pad + 1), :1], code)
        for param in notes:
            fallen[param].append(sid)
        fc._states[sid] = state
        A, Yraw = single.in_units(state, A, Yraw, 1, -pad)
        Xw, Yw, train = windows.training_windows(fc, A, encoded(fc, F, state), Yraw, 1, cal,
                                                 state.window_norm)
        if not len(Xw):
            untrained.append(sid)
        parts.append((Xw, Yw))
        origin_times.append(data.raw.index[train - pad].to_numpy())
        codes.append(np.full(len(Xw), code))
        residual_parts.append((sid, state, A, F, Yraw, cal, own, pad, data.raw.index, known))
    for param, sids in fallen.items():
        if sids:
            why, done = scaling.FALLBACKS[param]
            warnings.warn(f"`{param}`={getattr(fc, param)!r} but {len(sids)} series {why} "
                          f"({sids[:5]}{'...' if len(sids) > 5 else ''}): they are {done}.",
                          UserWarning, stacklevel=3)
    if untrained:
        warnings.warn(
            f"{len(untrained)} series are too short for any training window of `horizon`="
            f"{fc.horizon} targets before the calibration windows ({untrained[:5]}"
            f"{'...' if len(untrained) > 5 else ''}): the network, trained on the other "
            "series, forecasts them from their own (padded) history.", UserWarning,
            stacklevel=3)
    fc.padded_series_ = [sid for sid, (_, pad, _, _) in zip(ids, prepared) if pad]
    n_windows = sum(len(Xw) for Xw, _ in parts)
    if n_windows < 2:
        sizes = sorted(len(prep.data.raw) for prep, _, _, _ in prepared)
        raise ValueError(
            f"The panel's {len(ids)} series (of {sizes[0]} to {sizes[-1]} rows on their "
            f"grids) leave {n_windows} complete training windows of `lags`={fc.lags_} + "
            f"{windows.train_steps(fc)} target steps before the calibration windows "
            f"(`calibration_fraction`={fc.calibration_fraction}); 2 are needed. "
            f"{len(untrained)} series have none ({untrained[:5]}"
            f"{'...' if len(untrained) > 5 else ''}): give longer histories, complete their "
            "targets, or lower `lags`, `horizon` or `calibration_fraction`.")
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
    residuals, keys, values = [], [], []
    for sid, state, A, F, Yraw, cal, own, pad, index, known in residual_parts:
        # forecasts read the decomposition re-estimated on all the series' fitted values
        fc._states[sid] = state.reseasoned(known)
        r = windows.residuals(fc, predictor(fc, state), A, encoded(fc, F, state), Yraw, cal, 1,
                              state.window_norm)
        if r is None:
            continue
        residuals.append(r)
        k, v = single.calibration_record(fc, state, index[cal - pad], cal, own, Yraw, r,
                                         state.code, -pad)
        keys.append(k)
        values.append(v)
    fc.calibration_residuals_ = np.concatenate(residuals) if residuals else None
    fc._cal_keys = np.concatenate(keys) if keys else np.empty((0, 3), np.int64)
    fc._cal_values = np.concatenate(values) if values else np.empty((0, fc.horizon, 1, 2))
    return fc


def series_state(fc, sid, history=None):
    """The state of series ``sid``: fitted, or (without a series encoding) a new series'
    own from its ``history``."""
    if sid in fc._states:
        return fc._states[sid]
    static.check_unseen(fc, sid)
    if fc.series_encoding is not None:
        raise ValueError(f"series {sid!r} was not seen at fit; with "
                         f"`series_encoding`={fc.series_encoding!r} only the fitted "
                         f"series {fc.series_ids_[:5]}... can be forecast.")
    if fc.past_covariates_ or fc.future_covariates_:
        raise ValueError(f"series {sid!r} was not seen at fit; a new series can be forecast "
                         "only by a model without covariates.")
    prep = prepare(fc, history, None)
    return _scaled_state(fc, sid, prep, prep.data.arrays()[0][:, :1], -1)[0]


def _scaled_state(fc, sid, prep, values, code):
    """(state, notes) of one series of the panel, scaled by its training ``values``."""
    probe, notes = single.scaled_state(fc, prep, values, f"series {sid!r}")
    loc, scale = _spread(probe.to_units(values[:, 0], np.arange(len(values))), probe.norm)
    return dataclasses.replace(probe, loc=loc, scale=scale, code=code), notes


def forecast_values(fc, what, X, y, coverage=None):
    """``{series: (index, values, steps)}`` of every series, values ``(horizon, 1, k)`` at
    the step numbers ``steps`` (see :data:`tsrnn._forecast.forecast.WHATS`)."""
    name = fc.targets_[0]
    histories = {} if y is None else {sid: s.rename(name)
                                      for sid, s in panel_series(fc, y).items()}
    ids = list(fc.series_ids_) + [sid for sid in histories if sid not in fc._states]
    covariates = split_covariates(X, ids, fc.series_id)
    half = windows.half_width(fc.calibration_residuals_, coverage)
    out = {}
    for sid in ids:
        try:
            state = series_state(fc, sid, histories.get(sid))
            A, F, pos, index, start = forecast_inputs(
                fc, state, fc.targets_, fc.past_covariates_, fc.future_covariates_,
                static.without_static(fc, sid, covariates[sid]), histories.get(sid),
                short_ok=True)
        except (TypeError, ValueError) as err:
            raise series_error(err, sid) from None
        values = series_forecast(fc, state, predictor(fc, state), A, encoded(fc, F, state),
                                 pos, 1, what, half, start)[0]
        out[sid] = (index, values, forecast.step_numbers(fc, pos, start)[0])
    return out


def frame_values(fc, out, what, levels=None):
    """The forecast frame of :func:`forecast_values`' output, laid out like the panel."""
    cols, level = labels(what, levels)
    flat = {sid: (index, values[:, 0, :]) for sid, (index, values, _) in out.items()}
    return _panel_frame(fc, flat, [fc.targets_[0]] if cols is None else cols, level, what)


def predict(fc, what, X, y, coverage=None, levels=None):
    """Forecasts of every series (see :data:`tsrnn._forecast.forecast.WHATS`), framed
    like the fitted panel."""
    return frame_values(fc, forecast_values(fc, what, X, y, coverage), what, levels)


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


def forecast_at(fc, sid, A, F, pos, half=None):
    """(point, bounds) forecasts (len(pos), horizon, 1) of series ``sid`` (fitted) from the
    windows of its arrays ``A``/``F`` (own units) ending at the positions ``pos`` (a
    backtest's origins); bounds from the conformal half-width ``half`` (None: none)."""
    state = fc._states[sid]
    F = encoded(fc, F, state)
    # origins near the start read a padded (flat) history, as in training
    k = max(0, fc.lags_ - 1 - int(pos.min())) if len(pos) else 0
    return forecast.forecast_at(fc, state, predictor(fc, state), pad_start(A, k),
                                pad_start(F, k), pos + k, 1, half, -k)
