"""Stateful forecasting of a sensor stream: :class:`StreamingForecaster`.

Trained once over the whole stream by truncated BPTT(k1, k2) (the engine's
:mod:`tsrnn._engine.stream`), the network then carries its state from reading to
reading: :meth:`~StreamingForecaster.update` runs each new reading through one
recurrent step, and :meth:`~StreamingForecaster.predict` reads the forecast of the
next ``horizon`` steps off that state, without re-reading any window.  The pandas
side (the grid, the units, the checks of new readings) is in
:mod:`tsrnn._forecast.stream`.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from tsrnn._engine import interrupts, threads
from tsrnn._engine.network import Network
from tsrnn._engine.plan import check_plan
from tsrnn._engine.stream import CarriedState, StreamTrainer, substreams
from tsrnn._estimator_data import cast_finite, check_magnitude
from tsrnn._forecast.forecast import check_finite
from tsrnn._forecast.plain import PlainState
from tsrnn._forecast.regressor import DefaultNetworkMixin
from tsrnn._forecast.stream import StreamUnits, check_readings, future_index, read_stream
from tsrnn._validation import check_choice, check_int, check_random_state, naming
from tsrnn.estimators import RNNRegressor

__all__ = ["StreamingForecaster"]

# What the default network changes from RNNRegressor's defaults: the forecaster's (see
# tsrnn._forecast.regressor.FORECASTING_DEFAULTS), measured again on the stream in
# benchmarks/bench_streaming.py.
STREAMING_DEFAULTS = {"early_stopping": True, "learning_rate_init": 3e-3,
                      "loss": "absolute_error",
                      # the training settings the buoy benchmark was measured with; the
                      # estimators' small-data defaults (orthogonal init, clipping, a
                      # plateau schedule, 300 epochs) gave MASE 0.443 against 0.439 there,
                      # fitting five times longer (benchmarks/RESULTS.md, "Streaming")
                      "init": "pytorch", "clip_norm": None, "learning_rate": "constant",
                      "max_iter": 200}
# Substreams of batch_size="auto": at most this many rows, and each at least
# AUTO_SEGMENTS windows of k2 steps long, so that the carried state matters.
AUTO_ROWS = 16
AUTO_SEGMENTS = 8


class StreamingForecaster(PlainState, DefaultNetworkMixin, BaseEstimator):
    """Stateful recurrent forecaster of one stream, updated reading by reading.

    Parameters
    ----------
    horizon : int, default=1
        Steps to forecast. The network has one head output per step and target:
        output ``j`` at a reading forecasts ``j + 1`` steps after it (direct
        multi-step, no feedback of forecasts).
    k1 : int, default=48
        Steps between weight updates in training (truncated BPTT(k1, k2) of
        Williams & Peng 1990): every ``k1`` steps the loss of the newest ``k1``
        steps is backpropagated ``k2`` steps back. ``k2`` is the estimator's
        ``bptt_steps`` (default ``2 * k1``); the state is carried from segment to
        segment, so the network can remember further back than ``k2`` steps, it
        only learns from gradients over ``k2``. The default, a day of half-hourly
        readings, was more accurate than 24 on the bundled buoy data
        (``benchmarks/RESULTS.md``).
    freq : str, DateOffset or int, optional
        Step of the stream's index, as in :class:`~tsrnn.RNNForecaster`: by
        default its ``freq`` or the inferred one; missing timestamps in ``fit``
        become missing values.
    missing : {"ffill", "raise"}, default="ffill"
        Missing values in ``fit`` (NaN or missing timestamps) and in ``update``
        (NaN). ``"ffill"``: the network reads the last observed value again
        (the stream's clock keeps running: each missing reading is still one
        step), and a training step whose targets are not all observed has no
        loss; leading missing rows of ``fit`` are dropped (there is nothing to
        carry forward yet). ``"raise"``: a ``ValueError``.
    estimator : RNNRegressor, default=None
        The network's settings (cloned; never fitted itself). ``None``:
        ``StreamingForecaster.default_estimator()``, an
        :class:`~tsrnn.RNNRegressor` with ``early_stopping=True``,
        ``learning_rate_init=3e-3``, ``loss="absolute_error"`` and the training
        settings the buoy benchmark measured (``init="pytorch"``,
        ``clip_norm=None``, ``learning_rate="constant"``, ``max_iter=200``). Read from
        it: ``cell``, ``hidden_size``, ``num_layers``, ``activation``,
        ``init``, ``dropout``, ``loss`` (not ``"quantile"``), ``huber_delta``,
        ``solver``, ``learning_rate_init``, ``learning_rate``, ``momentum``,
        ``nesterovs_momentum``, ``alpha``, ``batch_size`` (the number of
        parallel substreams; ``"auto"``: at most 16, each at least eight times
        ``k2`` long), ``max_iter`` (epochs over the stream), ``tol``,
        ``n_iter_no_change``, ``early_stopping`` and ``validation_fraction``
        (the *last* part of the stream is held out and scored from the state
        the training part ends with), ``clip_norm``, ``bptt_steps`` (``k2``),
        ``n_jobs``, ``random_state``, ``verbose`` and ``dtype``. Not applicable
        to a stream: ``shuffle`` (segments run in time order),
        ``validation_gap`` (the last ``horizon`` training steps, whose
        targets lie in the held-out part, have no loss), ``scale`` (see
        Notes), ``n_channels``, ``output``, ``quantiles``; ``warm_start=True``
        is refused (each fit starts afresh). Tune as ``estimator__hidden_size``.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and dropout masks (it overrides the
        estimator's own ``random_state``; None leaves that as it is). Training
        draws nothing else: a given seed gives the same model bit for bit.

    Attributes
    ----------
    network_ : tsrnn.nn.Network
        The trained network; output ``j * K + k`` is target ``k`` at ``j + 1``
        steps ahead in the units of ``units_``.
    units_ : StreamUnits
        The inputs' and outputs' scaling, fitted on the training part of the stream.
    targets_, covariates_ : list
        Column names of ``y`` (``[y.name]`` for a Series, ``"y"`` if unnamed) and
        of ``X``.
    axis_ : TimeAxis
        The stream's step (``axis_.offset``).
    cutoff_ : Timestamp or int
        The timestamp of the last reading: that of ``fit``'s last row, then of
        ``update``'s; forecasts are for the ``horizon`` steps after it.
    n_readings_ : int
        Readings the state has seen (from the first complete row of ``fit``).
    k2_ : int
        Steps the gradient reached back.
    n_streams_ : int
        Parallel substreams the training stream was cut into.
    loss_curve_, validation_scores_, best_validation_score_, best_loss_, n_iter_
        As :class:`~tsrnn.RNNRegressor`'s: training loss per epoch, minus the
        validation loss per epoch (with early stopping), its best, the lowest
        training loss and the epochs run.

    Notes
    -----
    A stateful network never sees a window, so nothing can be expressed relative
    to one (as :class:`~tsrnn.RNNForecaster`'s ``window_norm`` does); its units
    are global, fitted on the training part of the stream: each target enters as
    its level standardised and as its last change scaled by the changes' spread,
    each covariate as its level standardised; the outputs are the changes from
    the last reading to the next ``horizon`` ones, each lead time scaled by the
    spread of its changes (an output of zero is the naive forecast, and every
    lead time weighs alike in the loss). Outputs relative to the last reading
    keep the forecasts anchored where the stream is, even when its level drifts
    beyond the range seen in training. On the bundled buoy data, inputs of the
    change alone, the level alone and both tied within seed noise (MASE 0.440,
    0.439, 0.439; ``benchmarks/RESULTS.md``); both are kept because neither alone
    covers the other's case: the change stays in range under such a drift, the
    level lets the network learn level-dependent behaviour (a summer's daily
    cycle is not a winter's).

    ``update`` does not train: the weights stay as fitted, only the state moves.
    Refit (from scratch) to learn from newer data.

    Examples
    --------
    >>> from tsrnn import StreamingForecaster
    >>> from tsrnn.datasets import load_sea_temperature
    >>> y = load_sea_temperature()["temperature"].iloc[:2000].asfreq("30min")
    >>> net = StreamingForecaster.default_estimator(hidden_size=8, max_iter=2)
    >>> fc = StreamingForecaster(horizon=3, k1=12, estimator=net, random_state=0)
    >>> fc = fc.fit(y.iloc[:-2])
    >>> fc = fc.update(y.iloc[-2:-1]).update(y.iloc[-1:])
    >>> fc.predict().index.strftime("%H:%M").tolist()
    ['16:00', '16:30', '17:00']
    """

    def __init__(self, *, horizon=1, k1=48, freq=None, missing="ffill", estimator=None,
                 random_state=None):
        self.horizon = horizon
        self.k1 = k1
        self.freq = freq
        self.missing = missing
        self.estimator = estimator
        self.random_state = random_state

    _network_defaults = STREAMING_DEFAULTS

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        check_int("horizon", self.horizon)
        check_int("k1", self.k1)
        check_choice("missing", self.missing, ("ffill", "raise"))
        est = self.estimator
        if est is None:
            est = self.default_estimator()
        elif not isinstance(est, RNNRegressor):
            raise TypeError(f"`estimator`={est!r} must be an RNNRegressor (a stateful "
                            "forecaster trains the network itself; its settings are read "
                            "from the estimator).")
        est = clone(est)
        if self.random_state is not None:
            est.set_params(random_state=self.random_state)
        est._check_params()
        if est.loss == "quantile":
            raise ValueError("`estimator` has loss='quantile', which the streaming forecaster "
                             "does not offer; use 'squared_error', 'absolute_error' or "
                             "'huber'.")
        if est.warm_start:
            raise ValueError("`estimator` has warm_start=True; a StreamingForecaster fit "
                             "always starts afresh (refit on the whole stream).")
        k2 = 2 * self.k1 if est.bptt_steps is None else est.bptt_steps
        if k2 < self.k1:
            raise ValueError(f"`estimator.bptt_steps`={est.bptt_steps} (k2) must be >= "
                             f"`k1`={self.k1}: each update backpropagates the loss of the "
                             "newest k1 steps at least that far.")
        return est, int(k2)

    # parameters read by update and predict: changed by set_params after fit, they take
    # effect at the next fit, and until then update/predict refuse to mix them in
    _READ_AFTER_FIT = ("horizon", "freq", "missing")

    def _check_fitted(self):
        check_is_fitted(self, "network_")
        changed = [k for k in self._READ_AFTER_FIT if getattr(self, k) != self._fitted[k]]
        if changed:
            now = ", ".join(f"`{k}`={getattr(self, k)!r} (fitted with {self._fitted[k]!r})"
                            for k in changed)
            raise ValueError(f"{now} changed since fit; call fit again for the new "
                             "parameters to take effect.")

    # -------------------------------------------------------------------- fit
    def fit(self, y, X=None):
        """Train over the stream ``y`` (and covariates ``X``) and carry the state to its end.

        Parameters
        ----------
        y : Series or DataFrame
            The stream, indexed by a DatetimeIndex (or an integer index) on a
            regular grid, unique and sorted; several columns are forecast
            jointly.
        X : DataFrame, optional
            Covariates read with each reading (known up to the present), on
            ``y``'s index; ``update`` then needs them for each new reading.

        Returns
        -------
        self

        Notes
        -----
        Ctrl-C stops training at the next segment with the best weights so far
        (a warning says so), and the model is then fitted with them, as an
        estimator's ``fit`` does. A fit that raises leaves the forecaster as it
        was.
        """
        before = dict(vars(self))
        try:
            with naming(self):
                return self._fit(y, X)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    def _fit(self, y, X):
        est, k2 = self._check_params()
        data = read_stream(self, y, X)
        h, K = int(self.horizon), len(data.targets)
        n = len(data.index)
        check_magnitude("y", data.values)
        n_val = math.ceil(est.validation_fraction * n) if est.early_stopping else 0
        n_train = n - n_val
        B = self._rows(est, n_train, k2)
        if n_train < B * k2 or n_train < 2:
            raise ValueError(
                f"The stream has {n} readings ({data.index[0]} .. {data.index[-1]}), "
                f"{n_train} of them for training once early stopping holds out {n_val}; "
                f"{B} substreams (`batch_size`) of at least k2={k2} steps need {B * k2}. "
                "Give a longer stream, or lower `k1`, `bptt_steps` or `batch_size`.")
        units = StreamUnits.fit(data.values[:n_train], data.observed[:n_train], h)
        U = units.inputs(data.values, None)
        Z, W = units.targets(data.values, data.observed)
        W[max(0, n_train - h):n_train] = 0  # their targets lie in the held-out part
        if not W[:n_train].any():
            raise ValueError(f"No reading of the training stream ({n_train} rows) has its "
                             f"next `horizon`={h} targets observed; nothing to train on.")
        dt = est._dtype(True)
        n_threads = threads.resolve_n_jobs(est.n_jobs)
        check_plan(est.cell, units.n_inputs, est.hidden_size, est.num_layers, h * K, dt,
                   batch=B, steps=k2, targets=h * K, seq=True,
                   dropout=est.dropout > 0 and est.num_layers > 1, n_threads=n_threads)
        rng = check_random_state(est.random_state)
        net = Network(est.cell, input_size=units.n_inputs, hidden_size=est.hidden_size,
                      num_layers=est.num_layers, output_size=h * K, activation=est.activation,
                      dtype=dt, random_state=rng, init=est.init)
        U = cast_finite("y", U, dt)
        Z = cast_finite("y", Z, dt)
        skip, L = substreams(n_train, B)
        part = slice(skip, skip + B * L)
        train = (U[part].reshape(B, L, -1), Z[part].reshape(B, L, -1),
                 W[part].reshape(B, L).astype(dt))
        validation = None
        if n_val and W[n_train:].any():
            validation = (U[None, n_train:], Z[None, n_train:], W[None, n_train:].astype(dt))
        trainer = StreamTrainer(net, self._config(est, B), self.k1, k2)
        reason = trainer.run(*train, epochs=est.max_iter, rng=rng, validation=validation)
        # a caller that turns Ctrl-C into KeyboardInterrupt (the command line, fit_many)
        # gets it here, before anything is recorded
        interrupts.checkpoint()
        if reason == "max_iter":
            warnings.warn(f"Stochastic optimizer: maximum iterations ({est.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=3)
        state = CarriedState(net).advanced(U)
        self.network_ = net
        self.units_ = units
        self.targets_, self.covariates_ = data.targets, data.covariates
        self.axis_ = data.axis
        self.cutoff_ = data.index[-1]
        self.n_readings_ = n
        self.k2_, self.n_streams_ = k2, B
        self.loss_curve_ = list(trainer.loss_curve)
        self.validation_scores_ = list(trainer.validation_scores) if est.early_stopping \
            else None
        self.best_validation_score_ = trainer.best_validation_score if est.early_stopping \
            else None
        self.best_loss_ = trainer.best_loss
        self.n_iter_ = trainer.n_iter
        self._kind, self._name = data.kind, data.name
        self._last = data.values[-1].copy()
        self._state = state
        self._fitted = {k: getattr(self, k) for k in self._READ_AFTER_FIT}
        return self

    def _rows(self, est, n_train, k2):
        """The substreams: ``batch_size``, or for ``"auto"`` at most :data:`AUTO_ROWS`
        with each at least :data:`AUTO_SEGMENTS` windows of ``k2`` steps (at least 1)."""
        if est.batch_size != "auto":
            return int(est.batch_size)
        return max(1, min(AUTO_ROWS, n_train // (AUTO_SEGMENTS * k2)))

    @staticmethod
    def _config(est, rows):
        """The trainer's settings, as the estimator derives them from its parameters, with
        one row per substream, segments in time order and a loss at every step."""
        return dataclasses.replace(est._config(rows), batch_size=rows, shuffle=False,
                                   return_sequences=True)

    # ----------------------------------------------------------------- update
    def update(self, y, X=None):
        """Advance the state by new readings: one recurrent step per reading.

        Parameters
        ----------
        y : Series or DataFrame
            The readings after ``cutoff_``, one row per step of the stream's grid
            and none skipped, with the fitted columns (any name for a Series).
            A missing reading is a row of NaN (``missing="ffill"``).
        X : DataFrame, optional
            The covariates at the same timestamps (a forecaster fitted with ``X``).

        Returns
        -------
        self

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        TypeError, ValueError
            Readings of the wrong type, columns, index or dtype; timestamps that
            overlap the stream, are out of order or leave a gap; missing values
            with ``missing="raise"``; infinite values. Nothing is changed then.
        """
        self._check_fitted()
        index, values, _ = check_readings(self, y, X)
        check_magnitude("y", values)
        K = len(self.targets_)
        U = cast_finite("y", self.units_.inputs(values, self._last[:K]), self.network_.dtype)
        state = self._state.advanced(U)
        # nothing is changed until every step above has succeeded
        self._state, self._last, self.cutoff_ = state, values[-1].copy(), index[-1]
        self.n_readings_ += len(index)
        return self

    # ---------------------------------------------------------------- predict
    def predict(self):
        """Forecast the ``horizon`` steps after the last reading, from the current state.

        Returns
        -------
        Series or DataFrame
            Like the fitted ``y``, indexed by the ``horizon`` timestamps after
            ``cutoff_``.
        """
        self._check_fitted()
        K = len(self.targets_)
        values = self.units_.forecast(self._last[:K], self._state.output)
        index = future_index(self.axis_, self.cutoff_, int(self.horizon))
        if self._kind == "series":
            out = pd.Series(values[:, 0], index=index, name=self._name)
        else:
            out = pd.DataFrame(values, index=index, columns=pd.Index(self.targets_))
        return check_finite(out, "point")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
