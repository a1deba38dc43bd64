"""What :class:`~tsrnn.RNNRegressor` and :class:`~tsrnn.RNNClassifier` share: parameter
checks, reading windows and sequences, standardisation, the fit (transactional, through
``tsrnn._engine.training``) and the head's predictions; and ``score`` over every step for
``output="sequence"``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import fields

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from tsrnn._engine import interrupts, seq2seq, sequences, threads
from tsrnn._engine.init import INITS
from tsrnn._engine.inputs import check_groups
from tsrnn._engine.network import Network
from tsrnn._engine.plan import check_plan
from tsrnn._engine.training import TrainConfig, Trainer
from tsrnn._estimator_data import (
    cast_finite,
    check_magnitude,
    weighted_stats,
)
from tsrnn._estimator_layout import (
    LAG_ORDERS,
    LayoutWarning,
    is_identity,
    read_layout,
    time_major,
)
from tsrnn._estimator_sequences import (
    is_sequences,
    read_step_targets,
    read_X,
    step_mask,
)
from tsrnn._validation import (
    NoTrainingSamplesError,
    as_float_array,
    check_choice,
    check_dtype,
    check_float,
    check_int,
    check_n_jobs,
    check_random_state,
    naming,
)


def auto_batch_size(n):
    """``batch_size="auto"`` for ``n`` training samples: about eight minibatches per epoch,
    of 8 to 64 samples (all ``n`` below 8).

    On small data a batch of all samples (the earlier ``min(64, n)``) makes an epoch a
    single update, and a plateau rule counted in epochs then stops the fit after a few
    dozen updates; chosen by train-split cross-validation in
    ``benchmarks/bench_classify.py`` (``benchmarks/RESULTS.md``).
    """
    return min(n, max(8, min(64, n // 8)))


def _ndim(v):
    """Dimensions of an array-like without NumPy's dispatch (``np.ndim`` calls
    ``__array_function__``, which scikit-learn's not-an-array checks refuse)."""
    if hasattr(v, "ndim"):
        return v.ndim
    try:
        return np.asarray(v).ndim
    except ValueError:  # ragged
        return None


def _warn_if_transposed(X):
    """A :class:`LayoutWarning` when 3-D ``X`` (or every 2-D sequence of a list) has fewer
    steps than channels: likely sktime's or aeon's ``(n, channels, time)``."""
    if isinstance(X, (list, tuple)):
        shapes = [np.shape(x) for x in X]
        if not shapes or not all(len(s) == 2 and s[0] < s[1] for s in shapes):
            return
        what = f"a list of {len(shapes)} sequences, each with fewer steps than channels"
    elif getattr(X, "ndim", None) == 3 and X.shape[1] < X.shape[2]:
        what = f"3-D of shape {X.shape}: {X.shape[1]} steps of {X.shape[2]} channels"
    else:
        return
    warnings.warn(f"`X` is {what}. sktime and aeon lay out (n, channels, time): if that is "
                  "`X`'s layout, pass time_axis=2; pass time_axis=1 to confirm (n, time, "
                  "channels) and silence this warning.", LayoutWarning, stacklevel=4)


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
        check_choice("init", self.init, INITS)
        if self.init == "identity" and self.cell != "rnn":
            raise ValueError(f"`init`='identity' is for cell='rnn'; the {self.cell} cell's "
                             "gates need 'pytorch' or 'orthogonal'.")
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
        check_choice("lag_order", self.lag_order, LAG_ORDERS)
        check_int("n_lags", self.n_lags, allow_none=True)
        if self.time_axis not in ("auto", 1, 2, -1) or isinstance(self.time_axis, bool):
            raise ValueError(f"`time_axis` must be 'auto', 1 (X is (n, time, channels)) or 2 "
                             f"(X is (n, channels, time), sktime's and aeon's layout); got "
                             f"{self.time_axis!r}.")
        check_n_jobs(self.n_jobs)
        check_dtype("dtype", self.dtype)
        check_choice("output", self.output, ("last", "sequence"))

    def _windows(self, X, y=None, *, reset, fitting=False):
        """Validate X (and y); return ``(X, lengths)`` (and y): X as (n, T, C) — zero-padded
        sequences with their ``lengths``, or fixed-length windows with ``lengths`` None."""
        X = time_major(X, self.time_axis)
        if reset and self.time_axis == "auto":
            _warn_if_transposed(X)
        if self._reads_sequences(X, reset):
            X3, lengths = self._sequences(X, reset)
            if not fitting:
                return X3, lengths
            if y is None or (not sequences.is_ragged(y) and np.ndim(y) == 0):
                raise ValueError(f"`y` must be given with {X3.shape[0]} targets (one per "
                                 "sequence of `X`).")
            if len(y) != X3.shape[0]:
                raise ValueError(f"`X` holds {X3.shape[0]} sequences but `y` has {len(y)} "
                                 "targets.")
            return X3, lengths, y
        if not fitting:
            return self._fixed_windows(X, reset=reset), None
        X3, y = self._fixed_windows(X, y, reset=reset, fitting=True)
        return X3, None, y

    def _reads_sequences(self, X, reset):
        """Whether ``X`` is read as sequences of their own lengths: a list, a NaN-padded
        3-D array, any input of an estimator fitted on such, or 3-D windows of another
        length than the fitted ones (a recurrent network takes any length)."""
        if is_sequences(X):
            return True
        if reset:
            return False
        if getattr(self, "n_timesteps_", 0) is None:
            return True
        shape = getattr(X, "shape", None)
        return shape is not None and len(shape) == 3 and shape[1] != self.n_timesteps_

    def _sequences(self, X, reset):
        """:meth:`_windows` for sequences: (padded X, lengths)."""
        if not reset and not is_sequences(X) and np.ndim(X) == 2 and \
                getattr(X, "columns", None) is None:
            if self.n_channels_ != 1:
                raise ValueError(f"`X` is 2-D (shape {np.shape(X)}), which means univariate "
                                 f"windows, but the estimator was fitted on sequences of "
                                 f"{self.n_channels_} channels; pass a list or a 3-D array.")
            X = np.asarray(X)[:, :, None]
        if not is_sequences(X):
            X = as_float_array("X", X, np.float64, ndims=(3,))
        X3, lengths = read_X(X, None if reset else self.n_channels_)
        if not sequences.is_ragged(X) and (lengths == X3.shape[1]).all():
            lengths = None  # windows of one length (another than the fitted): an array out
        if reset:
            self.n_timesteps_, self.n_channels_ = None, X3.shape[2]
            for name in ("n_features_in_", "feature_names_in_", "_window_columns"):
                vars(self).pop(name, None)
        check_magnitude("X", X3)
        return X3, lengths

    def _fixed_windows(self, X, y=None, *, reset, fitting=False):
        """Fixed-length windows: X (and y) validated in one call; X as (n, T, C) (and y)."""
        dt = self._dtype(reset)
        columns = getattr(X, "columns", None)
        shape_3d = None
        if columns is None and not sp.issparse(X):
            if not hasattr(X, "shape"):  # lists and other array-likes
                X = np.asarray(X)
            if len(X.shape) == 3 and X.shape[2]:
                if not reset and hasattr(self, "_window_columns"):
                    raise ValueError(
                        f"`X` is 3-D (shape {X.shape}), but the estimator was fitted on 2-D "
                        f"columns in another layout (lags reordered, or per-sample columns); "
                        f"pass `X` as at fit, with {self.n_features_in_} columns.")
                # Validate 3-D windows in their time-major 2-D form, so n_features_in_
                # is T*C whichever form fit and predict receive.
                shape_3d = X.shape[1:]
                X = np.asarray(X).reshape(X.shape[0], X.shape[1] * X.shape[2])
        kwargs = dict(reset=reset, dtype=[np.float64, np.float32])
        if not fitting:
            X = validate_data(self, X, **kwargs)
        elif not sp.issparse(y) and _ndim(y) == 3:
            # per-step targets (n, T, k) of output="sequence": scikit-learn's checks take
            # y up to 2-D, so X is validated alone and y read by the step-target reader
            X = validate_data(self, X, **kwargs)
            check_consistent_length(X, y)
        else:
            X, y = validate_data(self, X, y, multi_output=True, y_numeric=self._y_numeric,
                                 **kwargs)
        n, width = X.shape
        if shape_3d is not None:
            cols = None
            T, C = shape_3d
            if self.n_channels != "auto" and self.n_channels != C:
                raise ValueError(f"`X` has windows of {C} channels (shape {(n, T, C)}), but "
                                 f"`n_channels`={self.n_channels}.")
        elif reset:
            cols, assumed = read_layout(None if columns is None else list(columns), width,
                                        n_channels=self.n_channels, lag_order=self.lag_order,
                                        n_lags=self.n_lags)
            if assumed:
                warnings.warn(assumed, LayoutWarning, stacklevel=4)
            T, C = cols.shape
        else:
            cols = getattr(self, "_window_columns", None)
            T, C = (self.n_timesteps_, self.n_channels_) if cols is None else cols.shape
            if cols is None and T * C != width:
                raise ValueError(f"`X` has {width} columns, but the estimator was fitted on "
                                 f"{self.n_timesteps_} steps x {self.n_channels_} channels.")
        if reset:
            self.n_timesteps_, self.n_channels_ = T, C
            vars(self).pop("_window_columns", None)
            if cols is not None and not is_identity(cols):
                self._window_columns = cols
        elif (T, C) != (self.n_timesteps_, self.n_channels_):
            raise ValueError(
                f"`X` has windows of {T} steps x {C} channels, but the estimator was fitted on "
                f"{self.n_timesteps_} steps x {self.n_channels_} channels."
            )
        # the working dtype is applied after standardising (:meth:`_scale_X`): values offset
        # by 1e8 cast to float32 first would lose every digit that varies
        dtype = np.result_type(X.dtype, dt)
        if getattr(self, "_window_columns", None) is not None:
            X = np.ascontiguousarray(X[:, self._window_columns], dtype=dtype)
        else:
            X = np.ascontiguousarray(X.reshape(n, T, C), dtype=dtype)
        check_magnitude("X", X)
        return (X, y) if fitting else X

    def _check_output(self, first):
        """Set ``output_`` for a new network; a continued one keeps the head it has."""
        if first:
            self.output_ = self.output
        elif self.output != self.output_:
            raise ValueError(f"`output`={self.output!r} does not match the fitted network "
                             f"(output_={self.output_!r}); refit without warm_start.")

    def _step_targets(self, y, X3, lengths):
        """Per-step targets (n, T, ...) of ``output="sequence"``, and whether a list."""
        n, T = X3.shape[:2]
        return read_step_targets(y, np.full(n, T) if lengths is None else lengths, n, T)

    def _feedback_units(self):
        """Tell an encoder-decoder that feeds its outputs back how an output (standardised
        as its target column) becomes the next step's input (standardised as its input
        channel)."""
        net = self.network_
        if self.loss == "quantile":
            raise ValueError("Decoder feedback feeds each step's forecast to the next; with "
                             "`loss`='quantile' there is no single value to feed. Use a point "
                             "loss or no feedback.")
        net.set_feedback_units(*seq2seq.feedback_units(
            net.decoder_steps, net.feedback, net.output_size // net.decoder_steps,
            self._x_mean, self._x_std, self._y_mean, self._y_std))

    def _dtype(self, reset):
        """The working dtype: the parameter's for a new network, else the fitted one's
        (a ``set_params(dtype=...)`` after fit takes effect at the next fresh fit)."""
        return check_dtype("dtype", self.dtype) if reset else self.network_.dtype

    # -------------------------------------------------------------- scaling
    def _fit_scaler(self, X, sw, lengths=None, read=None):
        self._scaled = bool(self.scale)
        self._x_mean, self._x_std = weighted_stats(X, sw, self._scaled, lengths, read)

    def _scale_X(self, X, dtype):
        """Standardised windows in the network's ``dtype`` (computed in float64)."""
        if self._scaled:
            X = (X - self._x_mean) / self._x_std
        return cast_finite("X", X, dtype)

    # ------------------------------------------------------------------ fit
    def _config(self, n_train):
        """The trainer's settings: every parameter it shares a name with, and the rest."""
        batch = (auto_batch_size(n_train) if self.batch_size == "auto"
                 else min(self.batch_size, n_train))
        shared = {f.name for f in fields(TrainConfig)} & set(self._get_param_names())
        return TrainConfig(**{**{k: getattr(self, k) for k in shared}, **self._loss_config(),
                              "batch_size": batch, "verbose": bool(self.verbose),
                              "return_sequences": self.output == "sequence"})

    def _fit(self, X, y, sample_weight, *, incremental, classes=None, embedding=None,
             outputs_known=False, decoder=None, static=0):
        """``embedding``: ``(table, codes)``, a learned vector per group fed to the network
        as ``table.shape[1]`` more input channels, row ``i`` reading ``table[codes[i]]``
        (``table`` is the initial value; the trained one is ``network_.embedding``).
        ``outputs_known``: the caller made ``y``'s columns (a forecaster's horizon), so a
        width equal to the window's is no reason to warn.  ``decoder``: ``{"decoder_steps",
        "encoder_inputs", "decoder_inputs"}``, an encoder-decoder on packed windows
        (:mod:`tsrnn._engine.seq2seq`; a forecaster's ``strategy="seq2seq"``) instead of
        one network.  ``static``: the last ``static`` channels of the windows (of the
        encoder's, with a ``decoder``) are static inputs, constant over each window,
        that set the initial state through a learned layer (``Network``'s
        ``static_size``).

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
                                         classes=classes, embedding=embedding,
                                         outputs_known=outputs_known, decoder=decoder,
                                         static=static)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            if kept is not None:
                trainer.restore(kept)
            raise

    def _fit_unnamed(self, X, y, sample_weight, *, incremental, classes=None, embedding=None,
                     outputs_known=False, decoder=None, static=0):
        self._check_params()
        first = not (incremental or self.warm_start) or not hasattr(self, "network_")
        if not first:
            _check_same_model(self.network_, decoder, static)
        if decoder is not None and self.output != "last":
            raise ValueError(f"`output`={self.output!r}: an encoder-decoder's outputs are its "
                             "decoder's steps; use output='last'.")
        X3, lengths, y = self._windows(X, y, reset=first, fitting=True)
        Y = self._encode_y(y, X3, lengths, reset=first, classes=classes,
                           outputs_known=outputs_known)
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
        self._check_output(first)
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
        layout = dict(cell=self.cell, input_size=X3.shape[2], hidden_size=self.hidden_size,
                      num_layers=self.num_layers, output_size=self._n_head_outputs(),
                      num_embeddings=table_shape[0], embedding_dim=table_shape[1],
                      static_size=static)
        if decoder is None:
            layout["input_size"] -= static  # the recurrent inputs
        training = dict(batch=config.batch_size, steps=X3.shape[1], targets=Y.shape[2],
                        seq=self.output == "sequence",
                        dropout=self.dropout > 0 and self.num_layers > 1,
                        n_threads=threads.resolve_n_jobs(self.n_jobs))
        if decoder is None:
            check_plan(**layout, dtype=dt, **training)
        else:
            layout.update(decoder)
            seq2seq.check_plan(layout, dt, **training)
        if first:
            # statistics of the training part only: the held-out tail must not leak
            train_lengths = None if lengths is None else lengths[:n_train]
            read = None if decoder is None else seq2seq.read_mask(layout, X3.shape[1])
            self._fit_scaler(X3[:n_train], sw[:n_train], train_lengths, read)
            self._fit_target(Y[:n_train], sw[:n_train],
                             train_lengths if self.output == "sequence" else None)
            self._rng = check_random_state(self.random_state)
            model = Network if decoder is None else seq2seq.EncoderDecoder
            self.network_ = model(**layout, activation=self.activation, dtype=dt,
                                  random_state=self._rng, init=self.init)
            if decoder is not None and decoder.get("feedback"):
                self._feedback_units()
            if embedding is not None:
                self.network_.embedding[...] = table
        Xs, Ys = self._scale_X(X3, dt), self._scale_y(Y, dt)
        validation = None
        if n_val:
            validation = (Xs[n - n_val:], Ys[n - n_val:], sw[n - n_val:],
                          None if codes is None else codes[n - n_val:],
                          None if lengths is None else lengths[n - n_val:])
            Xs, Ys, sw = Xs[:n_train], Ys[:n_train], sw[:n_train]
        if first or not hasattr(self, "_trainer"):
            self._trainer = Trainer(self.network_, config)
        else:
            self._trainer.config = config
        trainer = self._trainer
        reason = trainer.run(Xs, Ys, sw, epochs=1 if incremental else self.max_iter,
                             rng=self._rng, validation=validation,
                             groups=None if codes is None else codes[:n_train],
                             lengths=None if lengths is None else lengths[:n_train])
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
        """The head's outputs on (scaled) windows or sequences ``X``: (n, O), or (n, T, O)
        with ``output="sequence"``; and the sequences' lengths (None for fixed-length
        windows).  ``groups``: each window's embedding row, for a network fitted with an
        embedding."""
        check_is_fitted(self, "network_")
        X3, lengths = self._windows(X, reset=False)
        X3 = self._scale_X(X3, self.network_.dtype)
        groups = check_groups(self.network_, groups, X3.shape[0])
        seq = self.output_ == "sequence"
        with threads.blas_single_thread():
            out = self.network_._kernel_predict(X3, seq, threads.resolve_n_jobs(self.n_jobs),
                                                groups, state=sequences.Batch(lengths))
        out = out if seq else out[:, 0, :]
        real = out if lengths is None or not seq else out[step_mask(lengths, out.shape[1])]
        if not np.isfinite(real).all():
            # weights that overflow in the forward pass (a crafted model file, a fit on data
            # far outside float32) would otherwise come back as inf/NaN predictions
            bad = ~np.isfinite(out).reshape(out.shape[0], -1).all(axis=1)
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"The network's output on `X` row {row} is not finite: its "
                             f"weights (largest |w| = {float(np.abs(self.network_.params).max()):.3g}"
                             f") or the windows overflow {np.dtype(self.network_.dtype).name}.")
        return out, lengths

    def _per_sequence(self, out, lengths, listed, fill=np.nan):
        """Per-step predictions ``out`` (n, T, ...) in the layout of ``X``: a list of each
        sequence's own steps for a list; for a NaN-padded array, the array with ``fill``
        past each length (a list where there is no fill, as for class labels); else the
        array."""
        if lengths is None and not listed:
            return out
        if listed or fill is None:
            return sequences.unpad(out, lengths)
        return sequences.mask_padding(np.array(out, dtype=np.float64), lengths, fill)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


def _check_same_model(net, decoder, static):
    """Refuse to continue training (warm start, ``partial_fit``) a fitted network as the
    other kind of model, or an encoder-decoder of another layout, or with other static
    inputs."""
    fitted = getattr(net, "decoder_steps", None)
    asked = None if decoder is None else decoder["decoder_steps"]
    if net.static_size != static:
        raise ValueError(f"The fitted network reads {net.static_size} static inputs; this "
                         f"fit has {static}. Refit without warm_start.")
    if fitted != asked or (decoder is not None and any(
            getattr(net, k) != v for k, v in decoder.items())):
        kind = "an encoder-decoder" if fitted is not None else "one network"
        raise ValueError(f"The fitted model is {kind} ({net!r}); it cannot continue as "
                         f"{'one network' if decoder is None else decoder}. Refit without "
                         "warm_start.")


class _StepScore:
    """``score`` over every step with ``output="sequence"`` (scikit-learn's mixins score
    one prediction per sample); first among the estimators' bases."""

    def score(self, X, y, sample_weight=None):
        """R² (regressor) or accuracy (classifier); with ``output="sequence"`` over every
        real step of every sequence, a sequence's weight applying to each of its steps."""
        if getattr(self, "output_", self.output) != "sequence":
            return super().score(X, y, sample_weight)  # the Regressor- or ClassifierMixin's
        from sklearn.metrics import accuracy_score, r2_score

        pred = self.predict(X)
        n = len(pred)
        if isinstance(pred, list):
            lengths = np.array([len(p) for p in pred])
        else:  # an array: full windows, or NaN past each length of a NaN-padded X
            lengths = self._windows(X, reset=False)[1]
            pred = sequences.unpad(pred, lengths)
            lengths = np.array([len(p) for p in pred])
        T = int(lengths.max())
        if not sequences.is_ragged(y) and np.ndim(y) >= 2:
            # targets padded like a NaN-padded X: as wide as X, which may be wider than
            # its longest sequence (a subset of the rows, a cross-validation fold)
            T = max(T, int(np.shape(y)[1]))
        padded = np.empty((n, T) + np.shape(pred[0])[1:], np.asarray(pred[0]).dtype)
        for i, p in enumerate(pred):
            padded[i, :len(p)] = p
        truth, _ = read_step_targets(y, lengths, n, T)
        mask = step_mask(lengths, T)
        sw = None if sample_weight is None else np.broadcast_to(
            np.asarray(sample_weight, np.float64)[:, None], (n, T))[mask]
        if self._y_numeric:
            return r2_score(truth[mask], padded[mask], sample_weight=sw)
        return accuracy_score(truth[mask], padded[mask], sample_weight=sw)


