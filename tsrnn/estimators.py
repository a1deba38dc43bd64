"""scikit-learn estimators: :class:`RNNRegressor` and :class:`RNNClassifier`.

Thin classes: parameter checks and data handling here, the loop in
``tsrnn._engine.training``, the numerics in ``tsrnn._engine``.  They know nothing of pandas
timestamps; a DataFrame made by ``tsrnn.windowing`` is read only through its
column names.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import log_softmax
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_is_fitted,
    column_or_1d,
)

from tsrnn._engine import sequences
from tsrnn._estimator_base import _assign, _RNNBase, _StepScore
from tsrnn._estimator_data import (
    cast_finite,
    check_magnitude,
    weighted_stats,
)
from tsrnn._estimator_sequences import (
    step_mask,
)
from tsrnn._validation import (
    as_float_array,
    check_choice,
    check_float,
    check_quantiles,
)

__all__ = ["RNNRegressor", "RNNClassifier"]

class RNNRegressor(_StepScore, RegressorMixin, _RNNBase):
    """Recurrent network regressor (Elman RNN, LSTM or GRU) on windows of a time series.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default="lstm"
    hidden_size : int, default=32
    num_layers : int, default=1
    activation : {"tanh", "relu"}, default="tanh"
        Nonlinearity of the ``"rnn"`` cell.
    init : {"orthogonal", "pytorch", "identity"}, default="orthogonal"
        Initial weights (see :class:`tsrnn.nn.Network`): orthogonal recurrent
        blocks with the LSTM forget-gate bias at 1 (Keras' scheme); PyTorch's
        uniform draw; or identity recurrent weights for a ReLU ``"rnn"`` (Le
        et al. 2015).  See Notes for why orthogonal is the default.
    dropout : float in [0, 1), default=0
        Inverted dropout between stacked layers (masks drawn from ``random_state``).
    loss : {"squared_error", "absolute_error", "huber", "quantile"}, default="squared_error"
    quantiles : list of float, optional
        Levels for ``loss="quantile"``; one head output per target and level.
    huber_delta : float, default=1.0
        Threshold of the Huber loss (in standardised units when ``scale``).
    solver : {"adam", "sgd"}, default="adam"
    learning_rate_init : float, default=1e-3
    learning_rate : {"plateau", "constant"}, default="plateau"
        ``"plateau"`` divides the rate by 5 after ``n_iter_no_change`` epochs
        without improvement, and stops once it falls below 1e-6 (five
        plateaus); ``"constant"`` stops at the first plateau.
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    alpha : float, default=0
        L2 penalty on the weights (not the biases).
    batch_size : int or "auto", default="auto"
        ``"auto"``: about eight minibatches per epoch, between 8 and 64
        samples: ``min(n, max(8, min(64, n // 8)))`` for ``n`` training
        samples (8 up to 71 samples, 64 from 512 on, all of them below 8).
    max_iter : int, default=300
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
    clip_norm : float or None, default=1.0
        Clip each minibatch's gradient to this global norm (None: no clipping).
    bptt_steps : int, optional
        Truncated backpropagation through time.
    scale : bool, default=True
        Standardise inputs per channel and targets per output with training
        statistics; predictions come back in the original units.
    n_channels : int or "auto", default="auto"
        Channels per step of a 2-D ``X``: ``"auto"`` reads them from its column
        names (see below), else 1 (univariate windows).
    lag_order : {"auto", "oldest_first", "newest_first"}, default="auto"
        The time order of a 2-D ``X``'s lag columns.  ``"auto"`` reads it
        from the names of ``tsrnn.windowing`` (``"y[t-3]"``), skforecast
        (``"lag_3"``, ``"<series>_lag_3"``), mlforecast (``"lag3"``) and
        sktime's ``Lag`` (``"lag_3__y"``), behind any ``ColumnTransformer``
        prefix (``"scaler__y[t-3]"``), in any column order (a per-channel
        transformer's blocks included); without such names it assumes the
        oldest first and warns (:class:`tsrnn.LayoutWarning`).  skforecast
        passes NumPy arrays newest lag first: give it
        ``lag_order="newest_first"``.  Columns that are not lags (date
        features, exogenous values, skforecast's window features) are read as
        constant channels, one per column, at every step.  Columns whose
        names mix namings or lag orders, or repeat a lag, are refused.
    n_lags : int, optional
        For a 2-D ``X`` without lag names: the number of steps whose columns
        come first; every later column is a constant channel (skforecast's
        exogenous and window-feature columns follow its lags).  None: every
        column is a lag.
    time_axis : {"auto", 1, 2}, default="auto"
        The time axis of a 3-D ``X`` (and of each 2-D sequence of a list):
        1 for ``(n, time, channels)``, tsrnn's and Keras's layout; 2 for
        ``(n, channels, time)``, sktime's and aeon's.  ``"auto"`` is 1, with
        a :class:`tsrnn.LayoutWarning` when the windows have fewer steps
        than channels.
    output : {"last", "sequence"}, default="last"
        ``"last"``: one prediction per window, from its last step
        (many-to-one).  ``"sequence"``: one per step (many-to-many, sequence
        labelling); ``y`` is then ``(n, T)``/``(n, T, k)``, or a list of
        per-sequence targets like ``X``, and predictions come in the layout
        of ``X``: a list for a list, an array for an array — NaN past each
        length for a NaN-padded one (class labels, which have no NaN, as a
        list).
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
        Window structure seen in ``fit``: a 2-D ``X`` must have its width (and
        layout) in ``predict``; sequences (a list or a 3-D array) may have any
        length.  ``n_channels_`` counts constant channels read from columns
        that are not lags.
        ``n_timesteps_`` is None after a fit on sequences of their own
        lengths (and ``n_features_in_`` is then not set).
    output_ : str
        The ``output`` the network was fitted for.
    quantiles_ : ndarray of float or None
        The levels of the quantile heads (``loss="quantile"``), as fitted; prediction
        reads these, so ``set_params(quantiles=...)`` takes effect at the next fit.

    Notes
    -----
    ``X`` may hold sequences of different lengths: a list of ``(T_i, C)``
    arrays (``(T_i,)`` for one channel), or a 3-D array padded at the end with
    all-NaN steps (sktime's and aeon's convention).  Each sequence runs to its
    own length; many-to-one predictions read its last real step.

    The training defaults (``batch_size="auto"``, ``init="orthogonal"``,
    ``clip_norm=1.0``, ``learning_rate="plateau"``, ``max_iter=300``) are meant
    to train out of the box on small sequence data, tens to hundreds of
    sequences of up to a few hundred steps.  They were chosen by 5-fold
    cross-validation on the training splits of four UCR/UEA problems
    (GunPoint, ItalyPowerDemand, BasicMotions, JapaneseVowels;
    ``benchmarks/bench_classify.py``, figures in ``benchmarks/RESULTS.md``),
    never by their test splits.  The previous defaults (``min(64, n)``
    samples per batch, PyTorch's initialisation, no clipping, stopping at
    the first plateau) gave a single update per epoch on 50 sequences, a
    gradient that vanished over 150 steps and a fit stopped after a few
    dozen epochs: chance accuracy on GunPoint.  Each change counted in
    that benchmark: PyTorch's initialisation with the other new defaults
    stays at chance on GunPoint, removing the clipping loses 6 points of
    cross-validated accuracy averaged over the four problems, and batches
    of 16 instead of 8 below 128 samples lose 1.  They are not better
    everywhere: on ItalyPowerDemand (sequences of 24 steps) test accuracy
    fell from 0.962 to 0.934, and on two small regression problems
    (``benchmarks/bench_regress.py``) the error stayed level or grew a
    little.  On larger data ``"auto"`` is 64 as before.
    :class:`tsrnn.nn.Network` keeps PyTorch's initialisation, and
    :class:`~tsrnn.RNNForecaster`'s default network keeps the earlier
    training settings, which forecast M1 better
    (``RNNForecaster.default_estimator``).

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
                 init="orthogonal", dropout=0.0, loss="squared_error", quantiles=None,
                 huber_delta=1.0, solver="adam", learning_rate_init=1e-3, learning_rate="plateau",
                 momentum=0.9, nesterovs_momentum=True, alpha=0.0, batch_size="auto", max_iter=300,
                 shuffle=True, tol=1e-4, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, validation_gap=0, clip_norm=1.0, bptt_steps=None,
                 scale=True, n_channels="auto", lag_order="auto", n_lags=None, time_axis="auto",
                 output="last", warm_start=False, n_jobs=None, random_state=None,
                 verbose=False, dtype=np.float32):
        _assign(self, locals())

    def _check_loss_params(self):
        check_choice("loss", self.loss, ("squared_error", "absolute_error", "huber", "quantile"))
        check_float("huber_delta", self.huber_delta, low=0, low_open=True)
        if self.loss == "quantile":
            check_quantiles(self.quantiles)
            if self.output == "sequence":
                raise ValueError("`loss`='quantile' is not available with `output`='sequence' "
                                 "(quantile heads are many-to-one); use output='last'.")

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

    def _encode_y(self, y, X3, lengths, *, reset, classes=None, outputs_known=False):
        n = X3.shape[0]
        if self.output == "sequence":
            Y, _ = self._step_targets(y, X3, lengths)
            Y = as_float_array("y", Y, np.float64, ndims=(2, 3))
            if reset:
                self._y_ndim = Y.ndim - 1
                self.n_outputs_ = 1 if Y.ndim == 2 else Y.shape[2]
            Y = Y.reshape(n, X3.shape[1], -1)
            if Y.shape[2] != self.n_outputs_:
                raise ValueError(f"`y` has {Y.shape[2]} outputs per step; the estimator was "
                                 f"fitted on {self.n_outputs_}.")
            check_magnitude("y", Y)
            return Y
        if lengths is not None:
            y = as_float_array("y", y, np.float64, ndims=(1, 2))
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == X3.shape[1] > 1 and lengths is None and \
                not outputs_known:
            warnings.warn(
                f"`y` has {y.shape[1]} columns, as many as `X` has steps: they are read as "
                f"{y.shape[1]} outputs of the last step (output='last'). For one target per "
                "step pass output='sequence'.", UserWarning, stacklevel=5)
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

    def _fit_target(self, Y, sw, lengths=None):
        self._y_mean, self._y_std = weighted_stats(Y, sw, self._scaled, lengths)

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
        out, lengths = self._head(X, groups)
        out = out * self._y_std + self._y_mean
        if self._y_ndim == 1:
            out = out[..., 0]
        if self.output_ == "sequence":
            return self._per_sequence(out, lengths, sequences.is_ragged(X))
        return out

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
        Q = self._head(X, groups)[0].reshape(-1, self.n_outputs_, len(levels))
        Q = Q * self._y_std[None, :, None] + self._y_mean[None, :, None]
        Q = np.sort(Q, axis=2)[:, :, np.argsort(np.argsort(levels))]
        return Q[:, 0, :] if self._y_ndim == 1 else Q


class RNNClassifier(_StepScore, ClassifierMixin, _RNNBase):
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
                 init="orthogonal", dropout=0.0, solver="adam", learning_rate_init=1e-3,
                 learning_rate="plateau", momentum=0.9, nesterovs_momentum=True, alpha=0.0,
                 batch_size="auto", max_iter=300, shuffle=True, tol=1e-4, n_iter_no_change=10,
                 early_stopping=False, validation_fraction=0.1, validation_gap=0,
                 clip_norm=1.0, bptt_steps=None, scale=True, n_channels="auto",
                 lag_order="auto", n_lags=None, time_axis="auto", output="last",
                 warm_start=False, n_jobs=None, random_state=None, verbose=False,
                 dtype=np.float32):
        _assign(self, locals())

    def _check_loss_params(self):
        pass

    def _loss_config(self):
        return dict(loss="cross_entropy")

    def _n_head_outputs(self):
        return len(self.classes_)

    def _encode_y(self, y, X3, lengths, *, reset, classes=None, outputs_known=False):
        n = X3.shape[0]
        if self.output == "sequence":
            labels, _ = self._step_targets(y, X3, lengths)
            if labels.ndim != 2:
                raise ValueError(f"`y` must hold one class label per step, shape (n, T) or a "
                                 f"list of (T_i,) arrays; got per-step shape {labels.shape[2:]}.")
            mask = step_mask(np.full(n, X3.shape[1]) if lengths is None else lengths,
                             X3.shape[1])
            codes = np.zeros(labels.shape)
            codes[mask] = self._encode_labels(labels[mask], reset, classes)
            return codes.reshape(n, X3.shape[1], 1)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim != 1:
            hint = (" For one label per step pass output='sequence'."
                    if y.ndim == 2 and y.shape[1] == X3.shape[1] else "")
            raise ValueError(f"`y` must be 1-D class labels, got shape {y.shape}.{hint}")
        return self._encode_labels(y, reset, classes).reshape(n, 1, 1)

    def _encode_labels(self, y, reset, classes):
        """Class codes (float64) of the labels ``y`` (1-D), fitting ``classes_`` on reset."""
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
        return self._label_encoder.transform(y).astype(np.float64)

    def _fit_target(self, Y, sw, lengths=None):
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
            With ``output="sequence"``, per step as :meth:`predict_log_proba`.
        """
        logp = self.predict_log_proba(X)
        return [np.exp(p) for p in logp] if isinstance(logp, list) else np.exp(logp)

    def predict_log_proba(self, X):
        """Log of the class probabilities (log-softmax of the head's outputs).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            With ``output="sequence"``: (n_samples, n_timesteps, n_classes), or
            a list of (T_i, n_classes) arrays for sequences of their own lengths.
        """
        logits, lengths = self._head(X)
        out = log_softmax(logits.astype(np.float64), axis=-1)
        if self.output_ == "sequence":
            return self._per_sequence(out, lengths, sequences.is_ragged(X))
        return out

    def predict(self, X):
        """Most probable class of each window (of each step with ``output="sequence"``).

        Returns
        -------
        ndarray of shape (n_samples,)
            With ``output="sequence"``: (n_samples, n_timesteps), or a list of
            (T_i,) label arrays for sequences of their own lengths.
        """
        logits, lengths = self._head(X)
        labels = self.classes_[np.argmax(logits, axis=-1)]
        if self.output_ == "sequence":
            return self._per_sequence(labels, lengths, sequences.is_ragged(X), fill=None)
        return labels
