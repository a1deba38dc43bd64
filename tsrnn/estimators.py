"""scikit-learn estimators: :class:`RNNRegressor` and :class:`RNNClassifier`.

Thin classes: parameter checks and data handling here, the loop in
``tsrnn._engine.training``, the numerics in ``tsrnn._engine``.  They know nothing of pandas
timestamps; a DataFrame made by ``tsrnn.windowing`` is read only through its
column names.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import fields

import numpy as np
import scipy.sparse as sp
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from tsrnn._engine import interrupts, threads
from tsrnn._engine.inputs import check_groups
from tsrnn._engine.network import Network
from tsrnn._engine.plan import check_plan
from tsrnn._engine.training import TrainConfig, Trainer
from tsrnn._estimator_data import (
    cast_finite,
    check_magnitude,
    structure_from_columns,
    weighted_stats,
)
from tsrnn._validation import (
    NoTrainingSamplesError,
    check_choice,
    check_dtype,
    check_float,
    check_int,
    check_n_jobs,
    check_quantiles,
    check_random_state,
    naming,
)

__all__ = ["RNNRegressor", "RNNClassifier"]

def _assign(estimator, params):
    """``__init__``'s whole job: store every argument under its name (scikit-learn's rule)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class _RNNBase(BaseEstimator):
    """Validation and the fit/predict plumbing shared by both estimators (each declares
    its parameters in its own ``__init__``)."""

    # -------------------------------------------------------------- checks
    def _check_params(self):
        check_choice("cell", self.cell, ("rnn", "lstm", "gru"))
        check_int("hidden_size", self.hidden_size)
        check_int("num_layers", self.num_layers)
        check_choice("activation", self.activation, ("tanh", "relu"))
        if self.cell != "rnn" and self.activation != "tanh":
            raise ValueError(f"`activation`={self.activation!r} is only available for cell='rnn'.")
        check_float("dropout", self.dropout, low=0, high=1, high_open=True)
        self._check_loss_params()
        check_choice("solver", self.solver, ("adam", "sgd"))
        check_float("learning_rate_init", self.learning_rate_init, low=0, low_open=True)
        check_choice("learning_rate", self.learning_rate, ("constant", "plateau"))
        check_float("momentum", self.momentum, low=0, high=1)
        check_float("alpha", self.alpha, low=0)
        if self.batch_size != "auto":
            check_int("batch_size", self.batch_size)
        check_int("max_iter", self.max_iter)
        check_float("tol", self.tol, low=0)
        check_int("n_iter_no_change", self.n_iter_no_change)
        check_float("validation_fraction", self.validation_fraction, low=0, high=1,
                    low_open=True, high_open=True)
        check_int("validation_gap", self.validation_gap, low=0)
        if self.clip_norm is not None:
            check_float("clip_norm", self.clip_norm, low=0, low_open=True)
        check_int("bptt_steps", self.bptt_steps, allow_none=True)
        if self.n_channels != "auto":
            check_int("n_channels", self.n_channels)
        check_n_jobs(self.n_jobs)
        check_dtype("dtype", self.dtype)

    def _windows(self, X, y=None, *, reset, fitting=False):
        """Validate X (and y) in one call; return X as (n, T, C) in the working dtype (and y)."""
        dt = self._dtype(reset)
        columns = getattr(X, "columns", None)
        channels_3d = None
        if columns is None and not sp.issparse(X):
            if not hasattr(X, "shape"):  # lists and other array-likes
                X = np.asarray(X)
            if len(X.shape) == 3 and X.shape[2]:
                # Validate 3-D windows in their time-major 2-D form, so n_features_in_
                # is T*C whichever form fit and predict receive.
                channels_3d = X.shape[2]
                X = np.asarray(X).reshape(X.shape[0], X.shape[1] * X.shape[2])
        kwargs = dict(reset=reset, dtype=[np.float64, np.float32])
        if not fitting:
            X = validate_data(self, X, **kwargs)
        else:
            X, y = validate_data(self, X, y, multi_output=True, y_numeric=self._y_numeric,
                                 **kwargs)
        n, width = X.shape
        if channels_3d is not None:
            C = channels_3d
        elif self.n_channels != "auto":
            C = self.n_channels
        elif columns is not None and (C := structure_from_columns(columns)) is not None:
            pass
        elif not reset:
            C = self.n_channels_
        else:
            C = 1
        if width % C:
            raise ValueError(f"`X` has {width} columns, which is not a multiple of "
                             f"`n_channels`={C}.")
        T = width // C
        if reset:
            self.n_timesteps_, self.n_channels_ = T, C
        elif (T, C) != (self.n_timesteps_, self.n_channels_):
            raise ValueError(
                f"`X` has windows of {T} steps x {C} channels, but the estimator was fitted on "
                f"{self.n_timesteps_} steps x {self.n_channels_} channels."
            )
        # the working dtype is applied after standardising (:meth:`_scale_X`): values offset
        # by 1e8 cast to float32 first would lose every digit that varies
        X = np.ascontiguousarray(X.reshape(n, T, C), dtype=np.result_type(X.dtype, dt))
        check_magnitude("X", X)
        return (X, y) if fitting else X

    def _dtype(self, reset):
        """The working dtype: the parameter's for a new network, else the fitted one's
        (a ``set_params(dtype=...)`` after fit takes effect at the next fresh fit)."""
        return check_dtype("dtype", self.dtype) if reset else self.network_.dtype

    # -------------------------------------------------------------- scaling
    def _fit_scaler(self, X, sw):
        self._scaled = bool(self.scale)
        self._x_mean, self._x_std = weighted_stats(X, sw, self._scaled)

    def _scale_X(self, X, dtype):
        """Standardised windows in the network's ``dtype`` (computed in float64)."""
        if self._scaled:
            X = (X - self._x_mean) / self._x_std
        return cast_finite("X", X, dtype)

    # ------------------------------------------------------------------ fit
    def _config(self, n_train):
        """The trainer's settings: every parameter it shares a name with, and the rest."""
        batch = min(64, n_train) if self.batch_size == "auto" else min(self.batch_size, n_train)
        shared = {f.name for f in fields(TrainConfig)} & set(self._get_param_names())
        return TrainConfig(**{**{k: getattr(self, k) for k in shared}, **self._loss_config(),
                              "batch_size": batch, "verbose": bool(self.verbose)})

    def _fit(self, X, y, sample_weight, *, incremental, classes=None, embedding=None):
        """``embedding``: ``(table, codes)``, a learned vector per group fed to the network
        as ``table.shape[1]`` more input channels, row ``i`` reading ``table[codes[i]]``
        (``table`` is the initial value; the trained one is ``network_.embedding``).

        A call that raises (bad data, an interrupt a caller turns into
        ``KeyboardInterrupt``) leaves the estimator as it was: its attributes, and for a
        warm start or ``partial_fit`` its weights and optimizer state.
        """
        before = dict(vars(self))
        trainer = before.get("_trainer") if (incremental or self.warm_start) else None
        kept = None if trainer is None else trainer.snapshot()
        try:
            with naming(self):
                return self._fit_unnamed(X, y, sample_weight, incremental=incremental,
                                         classes=classes, embedding=embedding)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            if kept is not None:
                trainer.restore(kept)
            raise

    def _fit_unnamed(self, X, y, sample_weight, *, incremental, classes=None, embedding=None):
        self._check_params()
        first = not (incremental or self.warm_start) or not hasattr(self, "network_")
        X3, y = self._windows(X, y, reset=first, fitting=True)
        Y = self._encode_y(y, X3.shape[0], reset=first, classes=classes)
        sw = _check_sample_weight(sample_weight, X3, dtype=np.float64, ensure_non_negative=True)
        n = X3.shape[0]
        n_train, n_val = n, 0
        if self.early_stopping and not incremental:
            n_val = max(1, math.ceil(self.validation_fraction * n))
            n_train = n - n_val - self.validation_gap
            if n_train < 1:
                raise NoTrainingSamplesError(
                    f"early_stopping leaves no training samples: {n} samples, "
                    f"`validation_fraction`={self.validation_fraction} holds out {n_val} and "
                    f"`validation_gap`={self.validation_gap} drops {self.validation_gap}."
                )
            if not (sw[n - n_val:] > 0).any():
                raise ValueError(
                    f"`sample_weight` is zero on all {n_val} validation samples (the last "
                    f"`validation_fraction`={self.validation_fraction} of the data): early "
                    "stopping cannot score them. Give them weight or use early_stopping=False."
                )
            if not (sw[:n_train] > 0).any():
                raise ValueError(
                    f"`sample_weight` is zero on all {n_train} training samples before the "
                    "early-stopping validation part: nothing to train on.")
        dt = self._dtype(first)
        self._head_levels(first)
        # weights are relative (the loss is divided by their sum; scikit-learn's check has
        # refused all zeros): scaled to a largest of 1, tiny ones (1e-320) do not underflow
        # to zero in float32
        sw = cast_finite("sample_weight", sw / sw.max(), dt)
        codes = None
        if embedding is not None:
            table, codes = embedding
            codes = np.ascontiguousarray(codes, dtype=np.int64)
        config = self._config(n_train)
        # the whole fit's memory is known now: refused before the network is built
        table_shape = (0, 0) if embedding is None else table.shape
        check_plan(self.cell, X3.shape[2], self.hidden_size, self.num_layers,
                   self._n_head_outputs(), dt, num_embeddings=table_shape[0],
                   embedding_dim=table_shape[1], batch=config.batch_size, steps=X3.shape[1],
                   targets=Y.shape[2], dropout=self.dropout > 0 and self.num_layers > 1,
                   n_threads=threads.resolve_n_jobs(self.n_jobs))
        if first:
            # statistics of the training part only: the held-out tail must not leak
            self._fit_scaler(X3[:n_train], sw[:n_train])
            self._fit_target(Y[:n_train], sw[:n_train])
            self._rng = check_random_state(self.random_state)
            self.network_ = Network(
                self.cell, input_size=X3.shape[2], hidden_size=self.hidden_size,
                num_layers=self.num_layers, output_size=self._n_head_outputs(),
                activation=self.activation, dtype=dt, random_state=self._rng,
                num_embeddings=table_shape[0], embedding_dim=table_shape[1],
            )
            if embedding is not None:
                self.network_.embedding[...] = table
        Xs, Ys = self._scale_X(X3, dt), self._scale_y(Y, dt)
        validation = None
        if n_val:
            validation = (Xs[n - n_val:], Ys[n - n_val:], sw[n - n_val:],
                          None if codes is None else codes[n - n_val:])
            Xs, Ys, sw = Xs[:n_train], Ys[:n_train], sw[:n_train]
        if first or not hasattr(self, "_trainer"):
            self._trainer = Trainer(self.network_, config)
        else:
            self._trainer.config = config
        trainer = self._trainer
        reason = trainer.run(Xs, Ys, sw, epochs=1 if incremental else self.max_iter,
                             rng=self._rng, validation=validation,
                             groups=None if codes is None else codes[:n_train])
        # a caller that turns Ctrl-C into KeyboardInterrupt (a forecaster, the command line)
        # gets it here, before anything else is trained or recorded
        interrupts.checkpoint()
        if reason == "max_iter" and not incremental:
            warnings.warn(
                f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4,
            )
        self.loss_curve_ = list(trainer.loss_curve)
        self.validation_scores_ = list(trainer.validation_scores) if self.early_stopping else None
        self.best_validation_score_ = trainer.best_validation_score if self.early_stopping else None
        self.best_loss_ = trainer.best_loss
        self.n_iter_ = trainer.n_iter
        self.t_ = trainer.t
        return self

    def fit(self, X, y, sample_weight=None):
        """Train on windows ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_channels) or (n_samples, n_timesteps * n_channels)
            Windows, time-major: in the 2-D form all channels of the oldest step
            come first (see ``n_channels``).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _head(self, X, groups=None):
        """The head's outputs on (scaled) windows ``X``; ``groups``: each window's
        embedding row, for a network fitted with an embedding."""
        check_is_fitted(self, "network_")
        X3 = self._scale_X(self._windows(X, reset=False), self.network_.dtype)
        groups = check_groups(self.network_, groups, X3.shape[0])
        with threads.blas_single_thread():
            out = self.network_._kernel_predict(X3, False, threads.resolve_n_jobs(self.n_jobs),
                                                groups)[:, 0, :]
        if not np.isfinite(out).all():
            # weights that overflow in the forward pass (a crafted model file, a fit on data
            # far outside float32) would otherwise come back as inf/NaN predictions
            row = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
            raise ValueError(f"The network's output on `X` row {row} is not finite: its "
                             f"weights (largest |w| = {float(np.abs(self.network_.params).max()):.3g}"
                             f") or the windows overflow {np.dtype(self.network_.dtype).name}.")
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


class RNNRegressor(RegressorMixin, _RNNBase):
    """Recurrent network regressor (Elman RNN, LSTM or GRU) on windows of a time series.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default="lstm"
    hidden_size : int, default=32
    num_layers : int, default=1
    activation : {"tanh", "relu"}, default="tanh"
        Nonlinearity of the ``"rnn"`` cell.
    dropout : float in [0, 1), default=0
        Inverted dropout between stacked layers (masks drawn from ``random_state``).
    loss : {"squared_error", "absolute_error", "huber", "quantile"}, default="squared_error"
    quantiles : list of float, optional
        Levels for ``loss="quantile"``; one head output per target and level.
    huber_delta : float, default=1.0
        Threshold of the Huber loss (in standardised units when ``scale``).
    solver : {"adam", "sgd"}, default="adam"
    learning_rate_init : float, default=1e-3
    learning_rate : {"constant", "plateau"}, default="constant"
        ``"plateau"`` divides the rate by 5 after ``n_iter_no_change`` epochs
        without improvement, and stops once it falls below 1e-6.
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    alpha : float, default=0
        L2 penalty on the weights (not the biases).
    batch_size : int or "auto", default="auto"
        ``"auto"``: ``min(64, n_samples)``.
    max_iter : int, default=200
        Epochs.
    shuffle : bool, default=True
    tol : float, default=1e-4
    n_iter_no_change : int, default=10
    early_stopping : bool, default=False
        Hold out the *last* ``validation_fraction`` of the samples (time
        order), stop on its loss and restore the best weights.
    validation_fraction : float, default=0.1
    validation_gap : int, default=0
        Samples dropped between the training and validation parts, so that
        overlapping windows do not leak.
    clip_norm : float, optional
        Clip the gradient to this global norm.
    bptt_steps : int, optional
        Truncated backpropagation through time.
    scale : bool, default=True
        Standardise inputs per channel and targets per output with training
        statistics; predictions come back in the original units.
    n_channels : int or "auto", default="auto"
        Channels of a 2-D ``X``: ``"auto"`` reads them from ``tsrnn.windowing``
        column names, else 1 (univariate windows).
    warm_start : bool, default=False
    n_jobs : int, optional
        Threads; predictions are bitwise identical for any value.
    random_state : int, RandomState instance or None
    verbose : bool, default=False
        A progress bar (tqdm) over the epochs.
    dtype : numpy.float32 or numpy.float64, default=numpy.float32

    Attributes
    ----------
    network_ : tsrnn.nn.Network
    loss_curve_ : list of float
    validation_scores_ : list of float or None
        Minus the validation loss per epoch (with ``early_stopping``).
    best_validation_score_ : float or None
    best_loss_ : float
    n_iter_ : int
    t_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    n_timesteps_, n_channels_ : int
        Window structure seen in ``fit``, enforced in ``predict``.
    quantiles_ : ndarray of float or None
        The levels of the quantile heads (``loss="quantile"``), as fitted; prediction
        reads these, so ``set_params(quantiles=...)`` takes effect at the next fit.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn import RNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 12, 2))
    >>> y = X[:, -1, 0] + X[:, -2, 1]
    >>> reg = RNNRegressor(hidden_size=8, max_iter=5, random_state=0).fit(X, y)
    >>> reg.predict(X).shape
    (64,)
    """

    _y_numeric = True

    def __init__(self, *, cell="lstm", hidden_size=32, num_layers=1, activation="tanh",
                 dropout=0.0, loss="squared_error", quantiles=None, huber_delta=1.0,
                 solver="adam", learning_rate_init=1e-3, learning_rate="constant", momentum=0.9,
                 nesterovs_momentum=True, alpha=0.0, batch_size="auto", max_iter=200,
                 shuffle=True, tol=1e-4, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, validation_gap=0, clip_norm=None, bptt_steps=None,
                 scale=True, n_channels="auto", warm_start=False, n_jobs=None,
                 random_state=None, verbose=False, dtype=np.float32):
        _assign(self, locals())

    def _check_loss_params(self):
        check_choice("loss", self.loss, ("squared_error", "absolute_error", "huber", "quantile"))
        check_float("huber_delta", self.huber_delta, low=0, low_open=True)
        if self.loss == "quantile":
            check_quantiles(self.quantiles)

    def _loss_config(self):
        qs = None if self.loss != "quantile" else check_quantiles(self.quantiles)
        return dict(loss=self.loss, quantiles=qs, huber_delta=self.huber_delta)

    def _head_levels(self, first):
        """Set ``quantiles_`` for a new network; a continued one (warm start,
        ``partial_fit``) must ask for the levels its heads were fitted for."""
        levels = check_quantiles(self.quantiles) if self.loss == "quantile" else None
        if first:
            self.quantiles_ = levels
        elif (levels is None) != (self.quantiles_ is None) or (
                levels is not None and not np.array_equal(levels, self.quantiles_)):
            raise ValueError(
                f"`loss`={self.loss!r} with `quantiles`={self.quantiles!r} does not match the "
                f"fitted heads (quantiles_={self.quantiles_!r}); refit without warm_start.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _n_head_outputs(self):
        q = len(np.atleast_1d(self.quantiles)) if self.loss == "quantile" else 1
        return self.n_outputs_ * q

    def _encode_y(self, y, n, *, reset, classes=None):
        y = np.asarray(y)
        if y.ndim == 0 or y.ndim > 2:
            raise ValueError(f"`y` must be 1-D or 2-D, got shape {y.shape}.")
        if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
            raise TypeError(f"`y` must hold numbers, got dtype {y.dtype} (e.g. "
                            f"{y.reshape(-1)[0]!r}).")
        if reset:
            self._y_ndim = y.ndim
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        Y = y.reshape(n, -1).astype(np.result_type(y.dtype, np.float32))
        check_magnitude("y", Y)
        if Y.shape[1] != self.n_outputs_:
            raise ValueError(f"`y` has {Y.shape[1]} outputs; the estimator was fitted on "
                             f"{self.n_outputs_}.")
        return Y[:, None, :]

    def _fit_target(self, Y, sw):
        self._y_mean, self._y_std = weighted_stats(Y, sw, self._scaled)

    def _scale_y(self, Y, dtype):
        if self._scaled:
            Y = (Y - self._y_mean) / self._y_std
        return cast_finite("y", Y, dtype)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X, y``, continuing from the current weights (streaming updates).

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predictions in the units of ``y``.

        With ``loss="quantile"``, the level closest to 0.5 (all levels:
        :meth:`predict_quantiles`).

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        return self._predict(X)

    def _predict(self, X, groups=None):
        """:meth:`predict`; ``groups``: each window's embedding row (a network fitted
        with an embedding)."""
        check_is_fitted(self, "network_")
        if self.quantiles_ is not None:
            levels = self.quantiles_
            return self._predict_quantiles(X, groups)[..., int(np.argmin(np.abs(levels - 0.5)))]
        out = self._head(X, groups) * self._y_std + self._y_mean
        return out[:, 0] if self._y_ndim == 1 else out

    def predict_quantiles(self, X):
        """Every quantile level, for ``loss="quantile"``.

        Sorted along the levels, so quantiles never cross (the heads are
        trained separately and may).

        Returns
        -------
        ndarray of shape (n_samples, len(quantiles)) or (n_samples, n_outputs, len(quantiles))
        """
        return self._predict_quantiles(X)

    def _predict_quantiles(self, X, groups=None):
        check_is_fitted(self, "network_")
        if self.quantiles_ is None:
            raise ValueError("predict_quantiles needs an estimator fitted with loss='quantile'.")
        levels = self.quantiles_
        Q = self._head(X, groups).reshape(-1, self.n_outputs_, len(levels))
        Q = Q * self._y_std[None, :, None] + self._y_mean[None, :, None]
        Q = np.sort(Q, axis=2)[:, :, np.argsort(np.argsort(levels))]
        return Q[:, 0, :] if self._y_ndim == 1 else Q


class RNNClassifier(ClassifierMixin, _RNNBase):
    """Recurrent network classifier (Elman RNN, LSTM or GRU) on windows of a time series.

    Softmax cross-entropy over the classes (two head outputs for a binary
    problem); labels may be any type scikit-learn accepts (ints, strings).
    Parameters and attributes as :class:`RNNRegressor`, without the
    regression losses; ``validation_scores_`` are minus the validation
    cross-entropy.

    Attributes
    ----------
    classes_ : ndarray
        The class labels, in the order of ``predict_proba``'s columns.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn import RNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 10, 1))
    >>> y = np.where(X[:, -3:, 0].sum(axis=1) > 0, "up", "down")
    >>> clf = RNNClassifier(hidden_size=8, max_iter=5, random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape
    (80, 2)
    """

    _y_numeric = False

    def __init__(self, *, cell="lstm", hidden_size=32, num_layers=1, activation="tanh",
                 dropout=0.0, solver="adam", learning_rate_init=1e-3, learning_rate="constant",
                 momentum=0.9, nesterovs_momentum=True, alpha=0.0, batch_size="auto",
                 max_iter=200, shuffle=True, tol=1e-4, n_iter_no_change=10,
                 early_stopping=False, validation_fraction=0.1, validation_gap=0,
                 clip_norm=None, bptt_steps=None, scale=True, n_channels="auto",
                 warm_start=False, n_jobs=None, random_state=None, verbose=False,
                 dtype=np.float32):
        _assign(self, locals())

    def _check_loss_params(self):
        pass

    def _loss_config(self):
        return dict(loss="cross_entropy")

    def _n_head_outputs(self):
        return len(self.classes_)

    def _encode_y(self, y, n, *, reset, classes=None):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim != 1:
            raise ValueError(f"`y` must be 1-D class labels, got shape {y.shape}.")
        kinds = sorted({"str" if isinstance(v, str) else "number" for v in y.tolist()}) \
            if y.dtype == object else []
        if len(kinds) > 1:
            raise TypeError("`y` mixes strings and numbers as class labels (e.g. "
                            f"{next(v for v in y.tolist() if isinstance(v, str))!r} and "
                            f"{next(v for v in y.tolist() if not isinstance(v, str))!r}); "
                            "give labels of one type.")
        check_classification_targets(y)
        if reset:
            self._label_encoder = LabelEncoder().fit(y if classes is None else np.asarray(classes))
            self.classes_ = self._label_encoder.classes_
            if len(self.classes_) < 2:
                raise ValueError(
                    f"The number of classes has to be greater than one; got {len(self.classes_)}"
                    f" class{'' if len(self.classes_) == 1 else 'es'} "
                    f"{self.classes_.tolist()!r}" + (" (`classes` is empty)" if classes is not None
                                                     and len(self.classes_) == 0 else "") + "."
                )
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(f"`y` has labels {unseen.tolist()} outside classes_ = "
                             f"{self.classes_.tolist()}.")
        codes = self._label_encoder.transform(y)
        return codes.astype(np.float64).reshape(n, 1, 1)

    def _fit_target(self, Y, sw):
        pass

    def _head_levels(self, first):
        pass

    def _scale_y(self, Y, dtype):
        return Y.astype(dtype)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over ``X, y``, continuing from the current weights.

        Parameters
        ----------
        classes : array-like, optional
            All labels that will ever appear; required on the first call unless
            the estimator is already fitted.

        Returns
        -------
        self
        """
        if classes is None and not hasattr(self, "network_"):
            raise ValueError("`classes` must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities (softmax of the head's outputs).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return np.exp(self.predict_log_proba(X))

    def predict_log_proba(self, X):
        """Log of the class probabilities (log-softmax of the head's outputs)."""
        return log_softmax(self._head(X).astype(np.float64), axis=1)

    def predict(self, X):
        """Most probable class of each window.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        logits = self._head(X)
        return self.classes_[np.argmax(logits, axis=1)]
