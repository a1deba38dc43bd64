"""Forecasting with pandas: :class:`RNNForecaster`, time-indexed data in, future-indexed forecasts out.

The forecaster turns the series into windows (``tsrnn.windowing``), trains an
:class:`~tsrnn.RNNRegressor` on them, and maps its outputs back onto the
timestamps after the last observation. Everything about time lives here; the
estimator below sees only arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from tsrnn._global import GlobalForecasting
from tsrnn._timeindex import check_index_kind, resolve_axis
from tsrnn._validation import check_choice, check_float, check_int, check_quantiles, naming
from tsrnn.estimators import RNNRegressor
from tsrnn.windowing import (
    as_names,
    check_numeric,
    check_time_index,
    gather_windows,
    series_frame,
    window_positions,
)

__all__ = ["RNNForecaster"]

# RNNRegressor's parameters that the forecaster passes through unchanged.
_NETWORK_PARAMS = (
    "cell", "hidden_size", "num_layers", "activation", "dropout", "loss", "quantiles",
    "huber_delta", "solver", "learning_rate_init", "learning_rate", "momentum",
    "nesterovs_momentum", "alpha", "batch_size", "max_iter", "shuffle", "tol", "n_iter_no_change",
    "early_stopping", "validation_fraction", "validation_gap", "clip_norm", "bptt_steps", "scale",
    "warm_start", "n_jobs", "random_state", "verbose", "dtype",
)


@dataclass
class _Data:
    """A series on its regular grid: ``raw`` with gaps as NaN, ``filled`` after the missing-value policy.

    Columns are the targets, then past covariates, then future covariates.
    """

    raw: pd.DataFrame
    filled: pd.DataFrame
    n_targets: int
    n_past: int

    def arrays(self):
        """(known-up-to-origin channels, future-known channels, raw targets) as float64 arrays."""
        k = self.n_targets + self.n_past
        values = self.filled.to_numpy(dtype=np.float64)
        return values[:, :k], values[:, k:], self.raw.iloc[:, :self.n_targets].to_numpy(np.float64)


def _as_frame(y, what):
    """``y`` as a DataFrame copy, and how to give forecasts back (Series name or None)."""
    if isinstance(y, pd.Series):
        return series_frame(y), ("series", y.name)
    if isinstance(y, pd.DataFrame):
        if y.shape[1] == 0:
            raise ValueError(f"`{what}` has no columns.")
        if y.columns.has_duplicates:
            raise ValueError(f"`{what}` has duplicate column names "
                             f"{list(y.columns[y.columns.duplicated()])}.")
        return y.copy(), ("frame", None)
    raise TypeError(f"`{what}` must be a pandas Series or DataFrame, got {type(y).__name__}.")


def _span(index):
    return f"{index[0]} .. {index[-1]}" if len(index) else "empty"


def _check_predict_X(X, used):
    """``X`` at predict time must be a DataFrame with the covariates ``used`` when they are needed."""
    if not used:
        return
    if X is None:
        raise ValueError(f"`X` must hold the covariates {used} used at fit.")
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"`X` must be a pandas DataFrame of the covariates {used}, got "
                        f"{type(X).__name__}.")
    absent = [c for c in used if c not in X.columns]
    if absent:
        raise ValueError(f"`X` lacks the covariates {absent} used at fit (it has "
                         f"{list(X.columns)}).")


def _rows(index, mask, limit=3):
    """Which rows a problem is on: a count and the first few labels."""
    rows = index[mask]
    return f"{len(rows)} rows, e.g. {[str(r) for r in rows[:limit]]}"


class RNNForecaster(GlobalForecasting, BaseEstimator):
    """Recurrent network forecaster: pandas Series/DataFrame in, forecasts at future timestamps out.

    Parameters
    ----------
    lags : int, default=24
        Observations the network reads before each forecast origin.
    horizon : int, default=1
        Steps to forecast.
    strategy : {"direct", "recursive"}, default="direct"
        ``"direct"``: one network emits all ``horizon`` steps. ``"recursive"``:
        a one-step network is fed its own forecasts; past covariates are then
        forecast jointly with the targets, since their future is unknown.
    past_covariates : str or list of str, optional
        Columns of ``X`` known only up to the present. Every other column of
        ``X`` is future-known (calendar, planned inputs, weather forecasts) and
        must be given for the forecast steps at predict time.
    freq : str, DateOffset or int, optional
        Step of the index. By default the index's ``freq``, else the inferred
        frequency, else business days for trading-day data (weekday sessions;
        holidays are skipped, never filled), else the most common step. Pass a
        calendar such as ``CustomBusinessDay(holidays=...)`` for exchange
        holidays, or an int step for an integer index. On a regular
        frequency, missing timestamps become missing values.
    window_norm : {"last", None}, default="last"
        ``"last"``: express every window's targets, and the values to forecast,
        relative to the last observed value, so that trends and level shifts
        never leave the range seen in training (an output of zero is the naive
        forecast). ``None``: absolute values.
    missing : {"ffill", "drop", "raise"}, default="ffill"
        Missing values (NaN or missing timestamps). ``"ffill"``: inputs carry
        the last observation forward (causal: never a later value); windows
        whose targets are missing are not trained on. ``"drop"``: windows with
        any missing value are not trained on, and forecasting needs complete
        history. ``"raise"``: a ``ValueError``. Forecasts are never NaN.
    calibration_fraction : float in (0, 0.5] or None, default=0.1
        The last windows held out of training (after a gap so that no target
        overlaps) to calibrate :meth:`predict_interval` by split conformal
        prediction. ``None`` trains on every window and disables intervals.
    global_model : bool, default=False
        ``True``: every column of a DataFrame ``y`` is a separate series of
        the same kind (sensors, tickers), and one network is trained on the
        windows of all of them; it forecasts each series from its own past.
        ``False``: the columns are one multivariate series, forecast jointly.
        Each series is scaled by its own spread (of first differences with
        ``window_norm="last"``, else of levels), so large and small series
        weigh alike; conformal residuals are pooled in those units.
    series_id : str, optional
        Read ``y`` as a long table: this column (or index level) names each
        row's series, the other column is the target, time is the index.
        Implies ``global_model=True``. ``X`` may then be long too (same id
        column) for per-series covariates, or one frame shared by all.
    series_encoding : {None, "onehot", "embedding"}, default=None
        With a global model, tell the network which series a window is from,
        so that it can learn per-series behaviour. ``"onehot"``: one input
        channel per series (the first layer's weights on them act as a
        per-series bias of every gate). ``"embedding"``: a learned vector of
        ``embedding_dim`` numbers per series, trained with the network (the
        cheaper choice for many series: channels grow with the dimension,
        not the number of series); see ``series_embedding_``. ``None``: the
        series are exchangeable, and any series of the kind can be forecast.
    embedding_dim : int, optional
        Size of each series' vector for ``series_encoding="embedding"``;
        default ``min(16, ceil(sqrt(n_series)))``.
    cell, hidden_size, num_layers, activation, dropout, loss, quantiles, huber_delta, solver, \
learning_rate_init, learning_rate, momentum, nesterovs_momentum, alpha, batch_size, max_iter, \
shuffle, tol, n_iter_no_change, early_stopping, validation_fraction, validation_gap, clip_norm, \
bptt_steps, scale, warm_start, n_jobs, random_state, verbose, dtype
        As :class:`~tsrnn.RNNRegressor`, except ``early_stopping=True`` and
        ``learning_rate_init=3e-3``; ``validation_gap`` is raised to
        ``horizon - 1`` so that validation targets never appear in training.
        ``warm_start=True`` continues training the fitted network on the new
        data (same targets and covariates). ``n_channels`` is not a parameter:
        the forecaster builds the windows.

    Attributes
    ----------
    estimator_ : RNNRegressor
        The fitted network on windows.
    targets_ : list
        Target column names (``[y.name]`` for a Series).
    past_covariates_, future_covariates_ : list
        Covariate column names, as split at fit.
    axis_ : TimeAxis
        The resolved step (``axis_.offset``) used for future timestamps.
    calibration_residuals_ : ndarray of shape (n_calibration, horizon, n_targets) or None
        Actual minus forecast on the calibration windows (NaN where the actual
        was missing).
    n_windows_ : int
        Windows trained on.
    series_ids_ : list
        With a global model: the series, in the panel's order.
    series_embedding_ : ndarray of shape (n_series, embedding_dim)
        With ``series_encoding="embedding"``: the learned vector of each
        series (rows in the order of ``series_ids_``).

    Examples
    --------
    >>> from tsrnn import RNNForecaster
    >>> from tsrnn.datasets import load_weather
    >>> y = load_weather()["temp_max"]
    >>> fc = RNNForecaster(lags=14, horizon=3, max_iter=5, random_state=0).fit(y)
    >>> fc.predict().index.strftime("%Y-%m-%d").tolist()
    ['2016-01-01', '2016-01-02', '2016-01-03']
    """

    def __init__(self, *, lags=24, horizon=1, strategy="direct", past_covariates=None, freq=None,
                 window_norm="last", missing="ffill", calibration_fraction=0.1,
                 global_model=False, series_id=None, series_encoding=None, embedding_dim=None,
                 cell="lstm", hidden_size=32, num_layers=1, activation="tanh", dropout=0.0,
                 loss="squared_error", quantiles=None, huber_delta=1.0, solver="adam",
                 learning_rate_init=3e-3, learning_rate="constant", momentum=0.9,
                 nesterovs_momentum=True, alpha=0.0, batch_size="auto", max_iter=200,
                 shuffle=True, tol=1e-4, n_iter_no_change=10, early_stopping=True,
                 validation_fraction=0.1, validation_gap=0, clip_norm=None, bptt_steps=None,
                 scale=True, warm_start=False, n_jobs=None, random_state=None, verbose=False,
                 dtype=np.float32):
        self.lags = lags
        self.horizon = horizon
        self.strategy = strategy
        self.past_covariates = past_covariates
        self.freq = freq
        self.window_norm = window_norm
        self.missing = missing
        self.calibration_fraction = calibration_fraction
        self.global_model = global_model
        self.series_id = series_id
        self.series_encoding = series_encoding
        self.embedding_dim = embedding_dim
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.activation = activation
        self.dropout = dropout
        self.loss = loss
        self.quantiles = quantiles
        self.huber_delta = huber_delta
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_gap = validation_gap
        self.clip_norm = clip_norm
        self.bptt_steps = bptt_steps
        self.scale = scale
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        check_int("lags", self.lags)
        check_int("horizon", self.horizon)
        check_choice("strategy", self.strategy, ("direct", "recursive"))
        if self.window_norm is not None:
            check_choice("window_norm", self.window_norm, ("last",))
        check_choice("missing", self.missing, ("ffill", "drop", "raise"))
        if self.calibration_fraction is not None:
            check_float("calibration_fraction", self.calibration_fraction, low=0, high=0.5,
                        low_open=True)
        as_names("past_covariates", self.past_covariates)
        self._check_global_params()

    def _network(self):
        params = {p: getattr(self, p) for p in _NETWORK_PARAMS}
        params["validation_gap"] = max(check_int("validation_gap", self.validation_gap, low=0),
                                       self._train_steps - 1)
        return RNNRegressor(**params)

    @property
    def _train_steps(self):
        """Steps each training window's targets cover."""
        return self.horizon if self.strategy == "direct" else 1

    # -------------------------------------------------------------- data prep
    def _prepare(self, y, X, *, fitting, need_rows=None, state=None):
        """Validate ``y``/``X`` and put them on one regular grid with the missing-value policy.

        ``need_rows``: covariates must cover only the last rows (predict from a
        new history); at fit they must cover all of ``y``.  ``state``: one
        series of a global model (its own ``kind`` and ``axis``).
        """
        frame, kind = _as_frame(y, "y")
        check_index_kind(frame.index, "y")
        check_time_index(frame.index, "y")
        if fitting:
            targets = list(frame.columns)
            axis = resolve_axis(frame.index, self.freq, "y")
        else:
            targets = self.targets_
            fitted_kind = self._kind if state is None else state["kind"]
            if kind[0] != fitted_kind[0]:
                got = "Series" if kind[0] == "series" else "DataFrame"
                want = "Series" if fitted_kind[0] == "series" else f"DataFrame with columns {targets}"
                raise ValueError(f"`y` must be a {want} like the one fitted; got a {got}.")
            if kind[0] == "series":
                frame.columns = targets  # a Series' name is cosmetic
            elif list(frame.columns) != targets:
                raise ValueError(f"`y` must have the fitted columns {targets}; got "
                                 f"{list(frame.columns)}.")
            axis = self.axis_ if state is None else state["axis"]
            if isinstance(axis.offset, int) != (not isinstance(frame.index, pd.DatetimeIndex)):
                raise TypeError(f"`y` has a {type(frame.index).__name__}; the forecaster was fitted "
                                "on a different kind of index.")
        check_numeric(frame, targets, "y")
        past, future = self._covariate_names(X, targets, fitting)
        if past or future:
            cov = X[past + future]
            check_time_index(cov.index, "X")
            check_numeric(cov, past + future, "X")
            need = frame.index if need_rows is None else frame.index[-need_rows:]
            missing = need.difference(cov.index)
            if len(missing):
                raise ValueError(f"`X` does not cover the index of `y`: {len(missing)} timestamps "
                                 f"are missing ({_span(missing)}); `X` spans {_span(cov.index)}.")
            frame = frame.join(cov.reindex(frame.index))
        raw = axis.regularise(frame, "y")
        used = raw if need_rows is None else raw.iloc[-need_rows:]
        values = used.to_numpy(dtype=np.float64)
        if np.isinf(values).any():
            raise ValueError(f"`y`/`X` hold infinite values "
                             f"({_rows(used.index, np.isinf(values).any(axis=1))}).")
        if self.missing == "raise" and np.isnan(values).any():
            raise ValueError(f"`y`/`X` have missing values "
                             f"({_rows(used.index, np.isnan(values).any(axis=1))}) and "
                             "`missing`='raise'.")
        filled = raw.ffill() if self.missing == "ffill" else raw
        return _Data(raw, filled, len(targets), len(past)), kind, axis, past, future

    def _covariate_names(self, X, targets, fitting):
        if not fitting:  # X already checked by _forecast_inputs
            return self.past_covariates_, self.future_covariates_
        past = as_names("past_covariates", self.past_covariates)
        if X is None:
            if past:
                raise ValueError(f"`past_covariates`={past} are named but `X` is None.")
            return [], []
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"`X` must be a pandas DataFrame of covariates, got {type(X).__name__}.")
        unknown = [c for c in past if c not in X.columns]
        if unknown:
            raise ValueError(f"`past_covariates` names columns {unknown} not in `X` "
                             f"(columns {list(X.columns)}).")
        clash = [c for c in X.columns if c in targets]
        if clash:
            raise ValueError(f"`X` has columns {clash} that are also targets in `y`.")
        if X.columns.has_duplicates:
            raise ValueError(f"`X` has duplicate column names "
                             f"{list(X.columns[X.columns.duplicated()])}.")
        return past, [c for c in X.columns if c not in past]

    # -------------------------------------------------------------------- fit
    def fit(self, y, X=None):
        """Train on the history ``y`` (and covariates ``X``).

        Parameters
        ----------
        y : Series or DataFrame
            The series to forecast (several columns are forecast jointly),
            indexed by a DatetimeIndex (regular, or trading days) or an integer
            index, unique and sorted.
        X : DataFrame, optional
            Covariates covering ``y``'s index (extra rows are ignored).

        Returns
        -------
        self
        """
        fitted = dict(self.__dict__)
        try:
            with naming(self):
                self._check_params()
                if self._is_global:
                    return self._fit_global(y, X)
                return self._fit_series(y, X)
        except BaseException:
            # a failed (re)fit leaves the model as it was: still usable if it was fitted
            self.__dict__.clear()
            self.__dict__.update(fitted)
            raise

    def _fit_series(self, y, X):
        data, kind, axis, past, future = self._prepare(y, X, fitting=True)
        lags, H = self.lags, self._train_steps
        self._check_length(data, future, "`y`")
        self.targets_ = list(data.raw.columns[:data.n_targets])
        self.past_covariates_, self.future_covariates_ = past, future
        self._kind, self.axis_ = kind, axis
        A, F, Yraw = data.arrays()
        n_t = data.n_targets
        Xw, Yw, _, cal = self._training_windows(A, F, Yraw, n_t)
        if len(Xw) < 2:
            raise ValueError(f"Only {len(Xw)} complete training windows of `lags`={lags} "
                             f"+ {H} steps in `y` ({_span(data.raw.index)}; "
                             f"{len(cal)} windows held out for calibration).")
        self._fit_network(Xw, Yw)
        self.calibration_residuals_ = self._residuals(A, F, Yraw, cal)
        self._history = data.filled.iloc[-lags:].copy()
        return self

    def _check_length(self, data, future, what):
        lags, h = self.lags, self.horizon
        if future and self.strategy == "direct" and lags < h:
            raise ValueError(f"`lags`={lags} must be >= `horizon`={h} with future-known covariates "
                             f"{future}, so that each window covers them over all forecast steps.")
        n = len(data.raw)
        if n < lags + h:
            raise ValueError(f"{what} has {n} observations ({_span(data.raw.index)}); `lags` + "
                             f"`horizon` = {lags + h} are needed.")

    def _training_windows(self, A, F, Yraw, n_t, cal=None):
        """Complete training windows ``(Xw, Yw)`` (targets relative to the window's level),
        their origins, and the calibration origins ``cal`` held out after them (by default
        the last ``calibration_fraction`` of the origins)."""
        lags, h, H = self.lags, self.horizon, self._train_steps
        n = len(A)
        if cal is None:
            origins = window_positions(n, lags, h, 1)
            n_cal = 0
            if self.calibration_fraction is not None:
                n_cal = math.ceil(self.calibration_fraction * len(origins))
            cal = origins[len(origins) - n_cal:]
        last_train = (cal[0] - H) if len(cal) else n - 1 - H
        train = window_positions(last_train + H + 1, lags, H, 1)
        Xw, ref = self._windows(A, F, train, self._lead)
        # fancy indexing and concatenate both copy, so Yw may be normalised in place
        Yw = Yraw[train[:, None] + np.arange(1, H + 1)] if self.strategy == "direct" else \
            np.concatenate([Yraw[train + 1], A[train + 1, n_t:]], axis=1)[:, None, :]
        Yw[..., :n_t] -= ref[:, None, :]
        ok = ~(np.isnan(Xw).any(axis=(1, 2)) | np.isnan(Yw).any(axis=(1, 2)))
        return Xw[ok], Yw[ok], train[ok], cal

    def _fit_network(self, Xw, Yw, validation_gap=None, embedding=None):
        network = self._network()
        if validation_gap is not None:
            network.set_params(validation_gap=max(network.validation_gap, validation_gap))
        if self.warm_start and hasattr(self, "estimator_"):
            network = self.estimator_.set_params(**network.get_params())
        try:
            self.estimator_ = network._fit(Xw, Yw.reshape(len(Yw), -1), None,
                                           incremental=False, embedding=embedding)
        except ValueError as err:
            if validation_gap is None or "early_stopping leaves no" not in str(err):
                raise
            raise ValueError(f"{err} With a global model the gap is (horizon - 1) x n_series "
                             f"= {validation_gap} windows, so that no validation target is "
                             "trained on; lower `validation_fraction` or use "
                             "early_stopping=False.") from None
        self.n_windows_ = len(Xw)

    def _residuals(self, A, F, Yraw, cal):
        """Actual minus forecast at the calibration origins ``cal`` (None without any)."""
        if not len(cal):
            return None
        return Yraw[cal[:, None] + np.arange(1, self.horizon + 1)] - self._forecast(A, F, cal)

    @property
    def _lead(self):
        return self.horizon if self.strategy == "direct" else 1

    def _windows(self, A, F, pos, lead):
        """Network inputs at origins ``pos`` and the per-window reference level."""
        Xw = gather_windows(A, F, pos, self.lags, lead)
        return Xw, self._normalise(Xw)

    def _normalise(self, Xw):
        """Subtract each window's last target values in place (``window_norm="last"``) and
        return them, the level to add back to the forecasts."""
        n_t = len(self.targets_)
        if self.window_norm != "last":
            return np.zeros((len(Xw), n_t))
        ref = Xw[:, -1, :n_t].copy()
        Xw[..., :n_t] -= ref[:, None, :]
        return ref

    def _forecast(self, A, F, pos, *, quantiles=False):
        """Forecasts ``(len(pos), horizon, n_targets)`` (``[..., n_levels]`` with ``quantiles``)
        from the windows ending at ``pos``; ``F`` must reach ``pos + lead``.

        NaN where a window has missing inputs.
        """
        h, n_t, lags = self.horizon, len(self.targets_), self.lags
        m = len(pos)
        if self.strategy == "direct":
            Xw, ref = self._windows(A, F, pos, h)
            bad = np.isnan(Xw).any(axis=(1, 2))
            Xw[bad] = 0.0
            if quantiles:
                Q = self.estimator_.predict_quantiles(Xw).reshape(m, h, n_t, -1)
                out = Q + ref[:, None, :, None]
            else:
                out = self.estimator_.predict(Xw).reshape(m, h, n_t) + ref[:, None, :]
            out[bad] = np.nan
            return out
        C1 = A.shape[1]
        buf = np.empty((m, lags + h, C1))
        buf[:, :lags] = A[pos[:, None] + np.arange(-lags + 1, 1)]
        bad = np.isnan(buf[:, :lags]).any(axis=(1, 2))
        if F.shape[1]:
            bad |= np.isnan(F[pos[:, None] + np.arange(-lags + 2, h + 1)]).any(axis=(1, 2))
        buf[bad] = 0.0
        steps = np.arange(lags)
        for j in range(h):
            win = buf[:, j:j + lags].copy()
            ref = self._normalise(win)
            if F.shape[1]:
                fut = np.nan_to_num(F[pos[:, None] - lags + 2 + j + steps])
                win = np.concatenate([win, fut], axis=2)
            step = self.estimator_.predict(win).reshape(m, C1)
            step[:, :n_t] += ref
            buf[:, lags + j] = step
        out = buf[:, lags:, :n_t].copy()
        out[bad] = np.nan
        return out

    # ---------------------------------------------------------------- predict
    def _forecast_inputs(self, X, y, state=None):
        """(A, F, origin, future index) for a forecast from the end of the history
        (of one series of a global model with its ``state``)."""
        check_is_fitted(self, "estimator_")
        lags, h = self.lags, self.horizon
        # a new history needs every covariate; the fitted one only the future-known ones
        needed = self.future_covariates_ if y is None else \
            self.past_covariates_ + self.future_covariates_
        if X is not None and not (self.past_covariates_ or self.future_covariates_):
            raise ValueError("The forecaster was fitted without covariates; `X` must be None.")
        _check_predict_X(X, needed)
        if y is None:
            hist = self._history if state is None else state["history"]
        else:
            data = self._prepare(y, X, fitting=False, need_rows=lags, state=state)[0]
            if len(data.filled) < lags:
                raise ValueError(f"`y` has {len(data.filled)} observations; forecasting needs the "
                                 f"last `lags`={lags}.")
            hist = data.filled.iloc[-lags:]
        known = self.targets_ + self.past_covariates_
        gaps = hist[known].isna().any(axis=1).to_numpy()
        if gaps.any():
            raise ValueError(
                f"The last `lags`={lags} observations have missing values "
                f"({_rows(hist.index, gaps)}); use `missing`='ffill' or complete the history."
            )
        axis = self.axis_ if state is None else state["axis"]
        future_index = axis.future(hist.index[-1], h)
        A = hist[known].to_numpy(np.float64)
        fut = self.future_covariates_
        F = hist[fut].to_numpy(np.float64)
        if fut:
            missing = future_index.difference(X.index)
            if len(missing):
                raise ValueError(
                    f"`X` must hold the future-known covariates for the {h} forecast steps "
                    f"{_span(future_index)}; {len(missing)} are missing ({_span(missing)})."
                )
            Ff = X.loc[future_index, fut]
            check_numeric(Ff, fut, "X")
            Ff = Ff.to_numpy(np.float64)
            if not np.isfinite(Ff).all():
                raise ValueError(f"`X` has missing values in the future-known covariates over "
                                 f"{_span(future_index)}.")
            if np.isnan(F).any():
                raise ValueError(f"The covariates {fut} have missing values in the last "
                                 f"`lags`={lags} observations.")
            F = np.concatenate([F, Ff])
        else:
            F = np.zeros((lags + h, 0))
        return A, F, np.array([lags - 1]), future_index

    def _wrap(self, values, index):
        if self._kind[0] == "series":
            return pd.Series(values[:, 0], index=index, name=self._kind[1])
        return pd.DataFrame(values, index=index, columns=pd.Index(self.targets_))

    def _per_target(self, values, index, labels, name=None):
        """A (horizon, n_targets, k) array as a frame: columns ``labels`` for a fitted Series,
        ``(target, label)`` for a fitted DataFrame."""
        if self._kind[0] == "series":
            return pd.DataFrame(values[:, 0, :], index=index, columns=pd.Index(labels, name=name))
        cols = pd.MultiIndex.from_product([self.targets_, labels], names=[None, name])
        return pd.DataFrame(values.reshape(len(index), -1), index=index, columns=cols)

    def predict(self, X=None, y=None):
        """Forecast the ``horizon`` steps after the last observation.

        Parameters
        ----------
        X : DataFrame, optional
            Future-known covariates for the forecast timestamps (and, with
            ``y``, all covariates over ``y``'s last ``lags`` rows).
        y : Series or DataFrame, optional
            A newer history of the fitted series to forecast from, without
            refitting. Default: the end of the training series.

        Returns
        -------
        Series or DataFrame
            Same type as the fitted ``y``, indexed by the next ``horizon``
            timestamps.
        """
        check_is_fitted(self, "estimator_")
        if self._is_global:
            return self._predict_global(X, y, "point")
        A, F, pos, index = self._forecast_inputs(X, y)
        return self._wrap(self._forecast(A, F, pos)[0], index)

    def predict_interval(self, coverage=0.9, X=None, y=None):
        """Prediction intervals by split conformal calibration, per step and target.

        The half-width of step ``j`` is the ``ceil((n+1) * coverage)``-th
        smallest absolute calibration residual at that step: with
        exchangeable errors, the interval covers the actual value with
        probability at least ``coverage``.

        Parameters
        ----------
        coverage : float in (0, 1), default=0.9
        X, y : as :meth:`predict`

        Returns
        -------
        DataFrame
            Columns ``lower``, ``upper`` (a Series was fitted) or
            ``(target, "lower")``, ``(target, "upper")``, indexed like
            :meth:`predict`.
        """
        coverage = check_float("coverage", coverage, low=0, high=1, low_open=True, high_open=True)
        check_is_fitted(self, "estimator_")
        if self.calibration_residuals_ is None:
            raise ValueError("Intervals need calibration windows; fit with `calibration_fraction`"
                             " set (it is None).")
        if self._is_global:
            return self._predict_global(X, y, "interval", coverage=coverage)
        half = self._half_width(coverage)
        A, F, pos, index = self._forecast_inputs(X, y)
        point = self._forecast(A, F, pos)[0]
        return self._per_target(np.stack([point - half, point + half], axis=2), index,
                                ["lower", "upper"])

    def _half_width(self, coverage):
        scores = np.abs(self.calibration_residuals_)
        n = (~np.isnan(scores)).sum(axis=0)
        k = np.ceil((n + 1) * coverage).astype(int)
        if np.any(k > n):
            need = math.ceil(round(coverage / (1 - coverage), 6))  # n >= c / (1 - c)
            raise ValueError(
                f"`coverage`={coverage} needs at least {need} calibration windows per step; there "
                f"are {int(n.min())}. Lower the coverage or raise `calibration_fraction`."
            )
        ordered = np.sort(scores, axis=0)  # NaN sort last
        return np.take_along_axis(ordered, (k - 1)[None], axis=0)[0]

    def predict_quantiles(self, X=None, y=None):
        """Forecast quantiles, for ``loss="quantile"`` with ``strategy="direct"``.

        Returns
        -------
        DataFrame
            One column per level (a Series was fitted) or per ``(target,
            level)``, indexed like :meth:`predict`.
        """
        check_is_fitted(self, "estimator_")
        if self.loss != "quantile":
            raise ValueError("predict_quantiles needs loss='quantile'.")
        if self.strategy != "direct":
            raise ValueError("predict_quantiles needs strategy='direct': a recursive forecast "
                             "cannot feed back a quantile.")
        levels = check_quantiles(self.quantiles)
        if self._is_global:
            return self._predict_global(X, y, "quantiles", levels=levels)
        A, F, pos, index = self._forecast_inputs(X, y)
        return self._per_target(self._forecast(A, F, pos, quantiles=True)[0], index, levels,
                                name="quantile")
