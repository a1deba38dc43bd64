"""One network across many series: the global mode of :class:`~tsrnn.RNNForecaster`.

A mixin, so that ``forecasting.py`` keeps the single-series path and this
module the panel around it.  Each series goes through the forecaster's own
single-series preparation (grid, missing values, covariates) with its own
time axis; its target is scaled by its own spread, its windows are stacked
with every other series' windows in time order, and one network is trained
on them.  Forecasts are scaled back per series.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from tsrnn._validation import check_choice, check_int
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


class GlobalForecasting:
    """The panel half of :class:`~tsrnn.RNNForecaster` (see its ``global_model``)."""

    @property
    def _is_global(self):
        return bool(self.global_model) or self.series_id is not None

    def _check_global_params(self):
        if not isinstance(self.global_model, (bool, np.bool_)):
            raise TypeError(f"`global_model`={self.global_model!r} must be a bool.")
        if self.series_id is not None and not isinstance(self.series_id, (str, int)):
            raise TypeError(f"`series_id`={self.series_id!r} must be a column name.")
        check_int("embedding_dim", self.embedding_dim, allow_none=True)
        if self.series_encoding is not None:
            check_choice("series_encoding", self.series_encoding, ("onehot", "embedding"))
            if not self._is_global:
                raise ValueError(f"`series_encoding`={self.series_encoding!r} needs "
                                 "`global_model`=True or a `series_id`.")

    # ------------------------------------------------------------------ fit
    def _panel_series(self, y, what="y"):
        """``{id: Series}`` of a panel: one target per series."""
        panel = split_panel(y, self.series_id, what=what)
        out = {}
        for sid, s in panel.items():
            if isinstance(s, pd.DataFrame):
                if s.shape[1] != 1:
                    raise ValueError(
                        f"series {sid!r}: a global model forecasts one target per series, but "
                        f"`{what}` has columns {list(s.columns)}; pass covariates in `X`.")
                s = s.iloc[:, 0]
            out[sid] = s
        return out

    def _target_name(self, panel):
        if self.series_id is not None:
            names = {s.name for s in panel.values()}
            if len(names) == 1:
                return names.pop()
        return "y"

    def _fit_global(self, y, X):
        panel = self._panel_series(y)
        ids = list(panel)
        covariates = split_covariates(X, ids, self.series_id)
        name = self._target_name(panel)
        self.targets_ = [name]
        self.series_ids_ = ids
        self._kind = ("panel", "long" if self.series_id is not None or isinstance(y, dict)
                      else "wide", name)
        prepared = [self._prepare_series(sid, panel[sid].rename(name), covariates[sid])
                    for sid in ids]
        first = prepared[0]
        for sid, prep in zip(ids, prepared):
            if _time_kind(prep["data"].raw.index) != _time_kind(first["data"].raw.index):
                raise TypeError(
                    f"series {sid!r}: its time index ({_time_kind(prep['data'].raw.index)}) "
                    f"differs from series {ids[0]!r}'s ({_time_kind(first['data'].raw.index)});"
                    " a global model needs one kind of time for all series.")
        self.past_covariates_, self.future_covariates_ = first["past"], first["future"]
        self.axis_ = first["axis"]
        cut = self._calibration_cut(prepared)
        self.series_embedding_ = self._initial_embedding(len(ids)) \
            if self.series_encoding == "embedding" else None
        self._series = {}
        parts, origin_times, residual_parts, codes = [], [], [], []
        for code, (sid, prep) in enumerate(zip(ids, prepared)):
            data = prep["data"]
            A, F, Yraw = data.arrays()
            cal = prep["origins"][prep["times"] >= cut] if cut is not None else \
                prep["origins"][:0]
            loc, scale = _spread(A[:self._stats_rows(len(A), cal), 0], self.window_norm)
            state = {"history": data.filled.iloc[-self.lags:].copy(), "axis": prep["axis"],
                     "kind": prep["kind"], "loc": loc, "scale": scale, "code": code}
            self._series[sid] = state
            A, Yraw = self._scaled(A, Yraw, state)
            Xw, Yw, train, cal = self._training_windows(A, self._encoded(F, state, zeros=True),
                                                        Yraw, 1, cal=cal)
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
        embedding = None
        if self.series_embedding_ is not None:
            embedding = (self.series_embedding_, np.concatenate(codes)[order])
        self._fit_network(Xw, Yw, validation_gap=(self._train_steps - 1) * len(ids),
                          embedding=embedding)
        residuals = [self._residuals(A, self._encoded(F, state), Yraw, cal)
                     for state, A, F, Yraw, cal in residual_parts]
        residuals = [r for r in residuals if r is not None]
        self.calibration_residuals_ = np.concatenate(residuals) if residuals else None
        self._history = None
        return self

    def _prepare_series(self, sid, y, X):
        """One series through the single-series preparation, with its forecast origins."""
        try:
            data, kind, axis, past, future = self._prepare(y, X, fitting=True)
            self._check_length(data, future, "the series")
        except (TypeError, ValueError) as err:
            raise series_error(err, sid) from None
        index = data.raw.index
        origins = window_positions(len(data.raw), self.lags, self.horizon, 1)
        return {"data": data, "kind": kind, "axis": axis, "past": past, "future": future,
                "origins": origins, "times": index[origins]}

    def _calibration_cut(self, prepared):
        """The first calibration origin time, shared by every series: the last
        ``calibration_fraction`` of all series' forecast origins, pooled in time, so that
        no series trains on a period another series calibrates on."""
        if self.calibration_fraction is None:
            return None
        times = np.sort(np.concatenate([p["times"].to_numpy() for p in prepared]))
        n_cal = math.ceil(self.calibration_fraction * len(times))
        return times[len(times) - n_cal] if n_cal else None

    def _stats_rows(self, n, cal):
        """Rows a series' scaling may look at: up to its first calibration origin (no
        calibration target), minus the early-stopping validation share."""
        rows = int(cal[0]) + 1 if len(cal) else n
        if self.early_stopping:
            rows = self.lags + int((rows - self.lags) * (1 - self.validation_fraction))
        return rows if rows >= 3 else n

    def _initial_embedding(self, n_series):
        dim = self.embedding_dim or min(16, math.ceil(math.sqrt(n_series)))
        dtype = np.dtype(self.dtype)
        if self.warm_start and getattr(self, "series_embedding_", None) is not None and \
                self.series_embedding_.shape == (n_series, dim):
            return self.series_embedding_
        # a generator of its own, seeded from random_state, so that the network's
        # initial weights are the same with and without an embedding
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return (np.random.RandomState(seed).standard_normal((n_series, dim)) * 0.1).astype(dtype)

    def _scaled(self, A, Yraw, state):
        """The target channel in the series' units."""
        A = A.copy()
        A[:, 0] = (A[:, 0] - state["loc"]) / state["scale"]
        if Yraw is not None:
            Yraw = (Yraw - state["loc"]) / state["scale"]
        return A, Yraw

    def _encoded(self, F, state, zeros=False):
        """``F`` with the series' identity appended as constant channels: its one-hot code,
        or its learned embedding (``zeros``: placeholders the trainer fills)."""
        if self.series_encoding == "onehot":
            code = np.zeros((len(F), len(self.series_ids_)))
            code[:, state["code"]] = 1.0
        elif self.series_encoding == "embedding":
            vector = self.series_embedding_[state["code"]]
            code = np.zeros((len(F), len(vector))) if zeros else \
                np.broadcast_to(vector.astype(np.float64), (len(F), len(vector)))
        else:
            return F
        return np.concatenate([F, code], axis=1)

    # -------------------------------------------------------------- predict
    def _series_state(self, sid, history):
        """A fitted series' state, or (without a series encoding) a new series' own."""
        if sid in self._series:
            return self._series[sid]
        if self.series_encoding is not None:
            raise ValueError(f"series {sid!r} was not seen at fit; with "
                             f"`series_encoding`={self.series_encoding!r} only the fitted "
                             f"series {self.series_ids_[:5]}... can be forecast.")
        if self.past_covariates_ or self.future_covariates_:
            raise ValueError(f"series {sid!r} was not seen at fit; a new series can be forecast "
                             "only by a model without covariates.")
        data, kind, axis, _, _ = self._prepare(history, None, fitting=True)
        values = data.arrays()[0][:, 0]
        loc, scale = _spread(values, self.window_norm)
        return {"history": data.filled.iloc[-self.lags:], "axis": axis, "kind": kind,
                "loc": loc, "scale": scale, "code": -1}

    def _predict_global(self, X, y, what, coverage=None, levels=None):
        """Forecasts of every series (``what``: "point", "interval" at ``coverage``, or
        "quantiles" at ``levels``), framed like the fitted panel."""
        name = self.targets_[0]
        histories = {} if y is None else {sid: s.rename(name)
                                          for sid, s in self._panel_series(y).items()}
        ids = list(self.series_ids_) + [sid for sid in histories if sid not in self._series]
        covariates = split_covariates(X, ids, self.series_id)
        half = self._half_width(coverage) if what == "interval" else None
        out = {}
        for sid in ids:
            try:
                state = self._series_state(sid, histories.get(sid))
                A, F, pos, index = self._forecast_inputs(covariates[sid], histories.get(sid),
                                                         state=state)
            except (TypeError, ValueError) as err:
                raise series_error(err, sid) from None
            A, _ = self._scaled(A, None, state)
            F = self._encoded(F, state)
            loc, scale = state["loc"], state["scale"]
            if what == "quantiles":
                values = self._forecast(A, F, pos, quantiles=True)[0][:, 0, :] * scale + loc
            else:
                point = self._forecast(A, F, pos)[0][:, 0] * scale + loc
                values = point[:, None] if half is None else \
                    np.stack([point - half[:, 0] * scale, point + half[:, 0] * scale], axis=1)
            out[sid] = (index, values)
        labels = {"point": [name], "interval": ["lower", "upper"]}.get(what, levels)
        return self._panel_frame(out, labels, what)

    def _panel_frame(self, out, labels, what):
        """Wide panels come back wide (time x series); long ones long, by (series, time)."""
        level = "quantile" if what == "quantiles" else None
        frames = {sid: pd.DataFrame(v, index=ix, columns=pd.Index(labels, name=level))
                  for sid, (ix, v) in out.items()}
        if self._kind[1] != "wide":
            return stack_forecasts(frames, series_name="series" if self.series_id is None
                                   else self.series_id)
        if what == "point":
            return pd.DataFrame({sid: f.iloc[:, 0] for sid, f in frames.items()})
        wide = pd.concat(frames, axis=1)
        wide.columns.names = [None, level]
        return wide
