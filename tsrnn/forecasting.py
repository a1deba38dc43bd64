"""Forecasting with pandas: :class:`RNNForecaster`, time-indexed data in, future-indexed forecasts out.

The forecaster turns the series into windows (``tsrnn.windowing``), trains its
``estimator`` (by default an :class:`~tsrnn.RNNRegressor`; any scikit-learn
regressor works) on them, and maps its outputs back onto the timestamps after
the last observation.  Everything about time lives here and in
``tsrnn._forecast``; the estimator sees only arrays.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from tsrnn._engine import interrupts
from tsrnn._forecast import forecast, global_model, regressor, scaling, single, windows
from tsrnn._forecast.plain import PlainState
from tsrnn._forecast.regressor import DefaultNetworkMixin
from tsrnn._validation import check_choice, check_float, check_int, naming
from tsrnn.windowing import as_names

__all__ = ["RNNForecaster"]


class RNNForecaster(PlainState, DefaultNetworkMixin, BaseEstimator):
    """Recurrent network forecaster: pandas Series/DataFrame in, forecasts at future timestamps out.

    Parameters
    ----------
    lags : int or "auto", default="auto"
        Observations the network reads before each forecast origin. ``"auto"``
        (``lags_`` after fit): four horizons, at least one season and 24 steps, at
        most 96 steps (or a season, if longer); for a single series short
        enough that it keeps at least as many training windows as steps in a
        window, for a panel at most its longest series' ``n - horizon``
        (shorter series are padded).
        Chosen on the M1 and Tourism competitions (``benchmarks/RESULTS.md``).
    horizon : int, default=1
        Steps to forecast.
    strategy : {"direct", "recursive", "seq2seq"}, default="direct"
        ``"direct"``: one network emits all ``horizon`` steps. ``"recursive"``:
        a one-step network is fed its own forecasts; past covariates are then
        forecast jointly with the targets, since their future is unknown.
        ``"seq2seq"``: an encoder network reads the window (with the
        future-known covariates of its own steps), its final state starts a
        decoder network that steps through the horizon reading each step's
        future-known covariates and its place in the horizon, and emits that
        step's forecast; both are trained end to end by backpropagation
        through time (needs an :class:`~tsrnn.RNNRegressor`, whose settings
        both networks take; ``bptt_steps`` truncates the encoder's).
    decoder_feedback : bool, default=False
        With ``strategy="seq2seq"``: the decoder also reads the previous
        step's target values — the true ones in training (teacher forcing),
        its own forecasts when forecasting (step by step).  Needs windows
        relative to their last value (``window_norm`` ``"last"``,
        ``"decompose"``, ``"auto"`` or None) and a point loss.
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
    window_norm : {"auto", "last", "season", "decompose", None}, default="auto"
        What each window is expressed relative to, so that trends, level
        shifts and seasons never leave the range seen in training. ``"last"``:
        its targets and the values to forecast relative to the last observed
        value (an output of zero is the naive forecast). ``"season"``: the
        inputs as with ``"last"``, each value to forecast relative to the value
        one season before it (an output of zero is the seasonal naive
        forecast; needs ``lags`` >= the season length). ``"decompose"``: the
        series seasonally adjusted first by a classical decomposition (as the
        M4 competition's benchmarks: a centred moving average over a season,
        multiplicative seasonal indices for a positive series, additive
        otherwise), estimated on all fitted values, then ``"last"``; forecasts
        and intervals are re-seasonalised. A series with fewer than two seasons
        is not decomposed (with a warning). ``"auto"``: per series,
        ``"decompose"`` when it passes the M4 benchmarks' seasonality test
        (autocorrelation at the season lag above its 90 % limit, on at least
        three seasons) and its season repeats in whole steps (weekly data's 52
        does not, unless ``season_length`` is given), else ``"last"``: on the M1 and Tourism competitions the
        decomposition beat the previous-season reference in every seasonal
        frequency (``benchmarks/RESULTS.md``). ``None``: absolute values.
    log_scale : bool or "auto", default=False
        Model the targets on a log scale, so that each window's level is
        divided out rather than subtracted (the network sees relative changes;
        forecasts are the exponential of its outputs, intervals are mapped
        from the log scale). ``True`` needs positive training values (a series
        with zeros or negative values is modelled on its own scale, with a
        warning); ``"auto"``: per series, whenever its training values are all
        positive. Later values below the smallest training value are read as
        that value.
    season_length : int, optional
        Observations per season for ``window_norm`` and ``lags="auto"``. By
        default from the step: 12 (monthly), 4 (quarterly), 52 (weekly), 7
        (daily), 5 (business days), a day over the step for sub-daily steps,
        1 otherwise (yearly data, integer indexes).
    clip_outputs : float or None, default=None
        Limit the estimator's normalised outputs to the range of the normalised
        training targets widened by this fraction of it on each side (e.g.
        0.5): a window unlike any seen in training then cannot produce a change
        far beyond every change seen (on a log scale, an explosion). ``None``:
        no limit.
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
        Each series is scaled by its own spread (of first differences of its
        seasonally adjusted values when windows are normalised, of levels with
        ``window_norm=None``), so large and small series weigh alike; conformal
        residuals are pooled in those units.
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
    static_covariates : str or list of str, optional
        With a global model: columns of ``X`` (given per series: long with
        ``series_id``, or a dict) that are constant within each series — a
        sensor's site, a ticker's sector.  A network maps them, through a
        learned layer, to its initial state (``h_0 = tanh(W s + b)``, see
        :class:`tsrnn.nn.Network`'s ``static_size``), so that each series'
        recurrence starts from what is known about it; any other estimator
        reads them as constant input channels.  Numeric columns are taken as
        they are, any other column one-hot (its categories as seen at fit,
        ``static_``).  Forecasting needs no future values of them.
    estimator : regressor, default=None
        What learns the windows. ``None``: an :class:`~tsrnn.RNNRegressor` with
        the forecasting defaults, ``RNNForecaster.default_estimator()``
        (``early_stopping=True``, ``learning_rate_init=3e-3``,
        ``loss="absolute_error"``: on the M1 competition it beat the squared
        error on sMAPE and MASE in every frequency, on Tourism it matched it;
        and ``batch_size=64``, ``init="pytorch"``, ``clip_norm=None``,
        ``learning_rate="constant"``, ``max_iter=200``: the estimators'
        small-data defaults made M1 worse in every frequency, see
        ``benchmarks/RESULTS.md``).  An estimator
        you pass is cloned and used as given; start from
        ``RNNForecaster.default_estimator(hidden_size=64)`` to change one
        setting and keep the others, or tune ``estimator__hidden_size`` (with
        ``estimator=None`` the nested names refer to the default network).
        Any scikit-learn regressor that takes windows works (e.g. ``Ridge()``
        for a linear baseline, on the same windows and with the same conformal
        intervals): one that reads 3-D input (the ``three_d_array`` tag)
        gets ``(n, lags, channels)``, any other the windows flattened
        time-major with ``make_windows``-style column names. A network's
        early stopping skips ``horizon - 1`` windows before its validation
        part, so that no validation target is trained on; ``warm_start=True``
        on the estimator continues training the fitted one on new data.
    random_state : int, RandomState instance or None, default=None
        Seeds the estimator (it overrides the estimator's own
        ``random_state``; None leaves that as it is) and, with
        ``series_encoding="embedding"``, the initial series vectors.

    Attributes
    ----------
    estimator_ : regressor
        The fitted estimator on windows.
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
    static_ : DataFrame or None
        With ``static_covariates``: each series' static inputs as the model
        reads them (rows ``series_ids_``; categorical columns one-hot, named
        ``column=category``).

    Examples
    --------
    >>> from tsrnn import RNNForecaster
    >>> from tsrnn.datasets import load_weather
    >>> y = load_weather()["temp_max"]
    >>> net = RNNForecaster.default_estimator(max_iter=5)
    >>> fc = RNNForecaster(lags=14, horizon=3, estimator=net, random_state=0).fit(y)
    >>> fc.predict().index.strftime("%Y-%m-%d").tolist()
    ['2016-01-01', '2016-01-02', '2016-01-03']
    >>> from sklearn.linear_model import Ridge
    >>> RNNForecaster(lags=14, horizon=3, estimator=Ridge()).fit(y).predict().shape
    (3,)
    """

    def __init__(self, *, lags="auto", horizon=1, strategy="direct", past_covariates=None,
                 freq=None, window_norm="auto", log_scale=False, season_length=None, clip_outputs=None,
                 decoder_feedback=False, missing="ffill", calibration_fraction=0.1,
                 global_model=False, series_id=None, series_encoding=None, embedding_dim=None,
                 static_covariates=None, estimator=None, random_state=None):
        self.lags = lags
        self.horizon = horizon
        self.strategy = strategy
        self.decoder_feedback = decoder_feedback
        self.past_covariates = past_covariates
        self.freq = freq
        self.window_norm = window_norm
        self.log_scale = log_scale
        self.season_length = season_length
        self.clip_outputs = clip_outputs
        self.missing = missing
        self.calibration_fraction = calibration_fraction
        self.estimator = estimator
        self.random_state = random_state
        self.global_model = global_model
        self.series_id = series_id
        self.series_encoding = series_encoding
        self.embedding_dim = embedding_dim
        self.static_covariates = static_covariates

    _network_defaults = regressor.FORECASTING_DEFAULTS

    # parameters that predict reads of the fitted model: changed by set_params after fit,
    # they take effect at the next fit (predict refuses to mix them with the fitted model)
    _REFIT_EXEMPT = ("estimator", "random_state", "calibration_fraction")

    def _fit_params(self):
        return {k: v for k, v in self.get_params(deep=False).items()
                if k not in self._REFIT_EXEMPT}

    def _check_fitted(self):
        """Refuse to forecast with parameters changed (by set_params) since fit."""
        check_is_fitted(self, "estimator_")
        fitted = getattr(self, "_fitted_params", None)
        if fitted is None:
            return
        changed = [k for k, v in self._fit_params().items()
                   if k in fitted and not _same(v, fitted[k])]
        if changed:
            now = ", ".join(f"`{k}`={getattr(self, k)!r} (fitted with {fitted[k]!r})"
                            for k in changed)
            raise ValueError(f"{now} changed since fit; call fit again for the new "
                             "parameters to take effect.")

    @property
    def _is_global(self):
        return bool(self.global_model) or self.series_id is not None

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        if self.lags != "auto":
            check_int("lags", self.lags)
        check_int("horizon", self.horizon)
        check_choice("strategy", self.strategy, ("direct", "recursive", "seq2seq"))
        if not isinstance(self.decoder_feedback, (bool, np.bool_)):
            raise TypeError(f"`decoder_feedback`={self.decoder_feedback!r} must be a bool.")
        if self.decoder_feedback and self.strategy != "seq2seq":
            raise ValueError(f"`decoder_feedback`=True needs strategy='seq2seq' (a decoder); "
                             f"`strategy`={self.strategy!r}.")
        if self.decoder_feedback and self.window_norm == "season":
            raise ValueError("`decoder_feedback`=True feeds the decoder values relative to the "
                             "window's last observation; `window_norm`='season' refers each "
                             "step to another value. Use 'last', 'decompose', 'auto' or None.")
        if self.window_norm is not None:
            check_choice("window_norm", self.window_norm, scaling.WINDOW_NORMS)
        if not isinstance(self.log_scale, (bool, np.bool_)) and self.log_scale != "auto":
            raise ValueError(f"`log_scale`={self.log_scale!r} must be True, False or 'auto'.")
        check_int("season_length", self.season_length, allow_none=True)
        if self.clip_outputs is not None:
            check_float("clip_outputs", self.clip_outputs, low=0)
        check_choice("missing", self.missing, ("ffill", "drop", "raise"))
        if self.calibration_fraction is not None:
            check_float("calibration_fraction", self.calibration_fraction, low=0, high=0.5,
                        low_open=True)
        past = as_names("past_covariates", self.past_covariates)
        static = as_names("static_covariates", self.static_covariates)
        if static and not self._is_global:
            raise ValueError(f"`static_covariates`={static} need a global model "
                             "(`global_model`=True or a `series_id`): one series' static "
                             "values are a constant.")
        both = [c for c in static if c in past]
        if both:
            raise ValueError(f"{both} are named in both `past_covariates` and "
                             "`static_covariates`.")
        regressor.check_estimator(self.estimator)
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

    def _model(self):
        """The module that fits and forecasts this kind of forecaster."""
        return global_model if self._is_global else single

    # ------------------------------------- what combining forecasters read of a fitted one
    def _values(self, what, X=None, y=None, coverage=None):
        """``{series: (index, values, steps)}`` (series None for a single series), values
        ``(horizon, n_targets, k)`` in the series' units at the step numbers ``steps``
        (see :meth:`_series_state`), as :meth:`predict` (``what``
        "point") or :meth:`predict_interval` ("interval") or :meth:`predict_quantiles`
        ("quantiles") would frame them."""
        self._check_fitted()
        return self._model().forecast_values(self, what, X, y, coverage)

    def _frame(self, out, what, levels=None):
        """The frame :meth:`predict` & co. return, of :meth:`_values`-shaped ``out``."""
        return self._model().frame_values(self, out, what, levels)

    def _series_state(self, sid, history=None):
        """The :class:`~tsrnn._forecast.series.SeriesState` of series ``sid`` (None: the
        single series; a new series of a global model from its ``history``): how its
        values map to the model's units."""
        return self._state if sid is None else global_model.series_state(self, sid, history)

    def _half_width(self, coverage):
        """The conformal half-width per step and target at ``coverage`` (None: None)."""
        return windows.half_width(self.calibration_residuals_, coverage)

    def _forecast_at(self, A, F, pos, half=None, sid=None):
        """(point, bounds) forecasts ``(len(pos), horizon, n_targets)`` from the windows of
        a series' arrays ending at ``pos`` (a backtest's origins); ``sid`` names the series
        of a global model; bounds (lower, upper) from :meth:`_half_width`'s ``half``, else
        None."""
        self._check_fitted()
        if sid is None:
            return single.forecast_at(self, A, F, pos, half)
        return global_model.forecast_at(self, sid, A, F, pos, half)

    def _template(self):
        """An unfitted forecaster that prepares data as this one does (for backtests)."""
        template = clone(self)
        template._check_params()
        return template

    # -------------------------------------------------------------------- fit
    def fit(self, y, X=None):
        """Train on the history ``y`` (and covariates ``X``).

        Parameters
        ----------
        y : Series, DataFrame or dict
            The series to forecast (several columns are forecast jointly),
            indexed by a DatetimeIndex (regular, or trading days) or an integer
            index, unique and sorted. For a global model, the panel (wide,
            long with ``series_id``, or a dict of series).
        X : DataFrame, optional
            Covariates covering ``y``'s index (extra rows are ignored).

        Returns
        -------
        self
        """
        fitted = dict(self.__dict__)
        try:
            # Ctrl-C stops the network at its next minibatch and comes back here as
            # KeyboardInterrupt: nothing more is trained, the model is put back
            with naming(self), interrupts.deferred(raise_on_exit=True):
                self._check_params()
                self._model().fit(self, y, X)
                # what predict checks set_params against (saved, copied and pickled with it)
                self._fitted_params = self._fit_params()
                return self
        except BaseException:
            # a failed (re)fit leaves the model as it was: still usable if it was fitted
            self.__dict__.clear()
            self.__dict__.update(fitted)
            raise

    # ---------------------------------------------------------------- predict
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
        self._check_fitted()
        return forecast.check_finite(self._model().predict(self, "point", X, y), "point")

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
            :meth:`predict`; ``attrs["coverage"]`` holds ``coverage`` (the level
            :func:`tsrnn.plotting.plot_forecast` names in its legend).
        """
        self._check_fitted()
        coverage = windows.check_interval(self, coverage, "estimator_")
        out = forecast.check_finite(
            self._model().predict(self, "interval", X, y, coverage=coverage), "interval")
        out.attrs["coverage"] = coverage
        return out

    def predict_quantiles(self, X=None, y=None):
        """Forecast quantiles, for an estimator with ``loss="quantile"`` and
        ``strategy="direct"`` or ``"seq2seq"``.

        Returns
        -------
        DataFrame
            One column per level (a Series was fitted) or per ``(target,
            level)``, indexed like :meth:`predict`.
        """
        self._check_fitted()
        levels = regressor.fitted_levels(self.estimator_)
        if levels is None:
            raise ValueError(f"predict_quantiles needs loss='quantile' in the estimator (e.g. "
                             f"RNNRegressor(loss='quantile', quantiles=[0.1, 0.5, 0.9])); "
                             f"`estimator` is {self.estimator_!r}.")
        if self.strategy == "recursive":
            raise ValueError("predict_quantiles needs strategy='direct' or 'seq2seq': a "
                             "recursive forecast cannot feed back a quantile.")
        return forecast.check_finite(
            self._model().predict(self, "quantiles", X, y, levels=list(levels)), "quantile")


def _same(a, b):
    """Whether two parameter values are equal (arrays elementwise, anything else by ==)."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        try:
            return bool(np.array_equal(a, b))
        except (TypeError, ValueError):
            return False
