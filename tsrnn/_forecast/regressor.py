"""The forecaster's estimator: its defaults, its checks, and how windows reach it.

Any scikit-learn regressor can forecast: an estimator that reads 3-D windows
(its ``three_d_array`` input tag, as :class:`~tsrnn.RNNRegressor`) gets them
as ``(n, lags, channels)``; any other gets them flattened time-major, as a
DataFrame whose columns are named like :func:`tsrnn.windowing.make_windows`'s
(``y[t-3]``), so that pipelines can select them by name.  What only the
network can do (quantile outputs, learned series embeddings) is refused with
an error naming ``estimator`` when it cannot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone, is_regressor
from sklearn.utils import get_tags

from tsrnn._estimator_data import check_magnitude
from tsrnn.estimators import RNNRegressor
from tsrnn.windowing import offset_name

# What the forecaster's default network changes from RNNRegressor's defaults.  The
# second line keeps the training settings RNNRegressor had before its small-data
# defaults (issue 13): on M1 and Tourism (benchmarks/bench_mcomp.py) those defaults made
# the forecaster worse, see benchmarks/RESULTS.md.  batch_size=64 is the earlier "auto",
# min(64, n): an explicit batch is capped at the sample count.
FORECASTING_DEFAULTS = {"early_stopping": True, "learning_rate_init": 3e-3,
                        "loss": "absolute_error",
                        "batch_size": 64, "init": "pytorch", "clip_norm": None,
                        "learning_rate": "constant", "max_iter": 200}


def default_estimator(**params):
    """The network of ``RNNForecaster(estimator=None)``, with ``params`` changed."""
    return RNNRegressor(**{**FORECASTING_DEFAULTS, **params})


class DefaultNetworkMixin:
    """For a model whose ``estimator=None`` stands for its ``default_estimator()``, an
    :class:`~tsrnn.RNNRegressor` with the class's ``_network_defaults``:
    ``set_params(estimator__<name>=...)`` then first makes ``estimator`` that network, so
    that tuning starts from the model's defaults rather than from ``RNNRegressor()``'s."""

    _network_defaults: dict = {}

    @classmethod
    def default_estimator(cls, **params):
        """The network of ``estimator=None`` (see the ``estimator`` parameter for its
        settings and why), with ``params`` changed.

        Returns
        -------
        RNNRegressor
        """
        return RNNRegressor(**{**cls._network_defaults, **params})

    def set_params(self, **params):
        """Set parameters; ``estimator__<name>`` with ``estimator=None`` first makes
        ``estimator`` the default network, so tuning starts from its defaults.

        Returns
        -------
        self
        """
        if self.estimator is None and "estimator" not in params and \
                any(k.startswith("estimator__") for k in params):
            self.estimator = self.default_estimator()
        return super().set_params(**params)


def check_estimator(estimator):
    """``estimator`` if it is a regressor with ``fit`` and ``predict``, else a TypeError."""
    if estimator is None:
        return None
    if isinstance(estimator, type):
        raise TypeError(f"`estimator`={estimator.__name__} is a class; pass an instance, e.g. "
                        f"{estimator.__name__}().")
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")
            and hasattr(estimator, "get_params")):
        raise TypeError(f"`estimator`={estimator!r} must be a scikit-learn regressor (with "
                        "fit, predict and get_params).")
    if not is_regressor(estimator):
        raise TypeError(f"`estimator`={estimator!r} is not a regressor (a forecaster needs "
                        "numeric predictions); pass e.g. RNNRegressor() or Ridge().")
    if is_network(estimator) and estimator.time_axis in (2, -1):
        raise ValueError(f"`estimator`={estimator!r} reads 3-D windows as (n, channels, time), "
                         "but a forecaster makes them (n, time, channels): leave its "
                         "`time_axis` at 'auto' or 1.")
    return estimator


def is_network(estimator):
    return isinstance(estimator, RNNRegressor)


def prepare_estimator(spec, train_steps, *, extra_gap=0, random_state=None):
    """A fresh clone of the forecaster's estimator, made ready for windows of ``spec``.

    A given ``random_state`` (the forecaster's) seeds it; a network's early stopping
    drops ``train_steps - 1`` windows (and ``extra_gap``) before its validation part,
    so that no validation target is trained on.
    """
    est = default_estimator() if spec.estimator is None else clone(check_estimator(spec.estimator))
    params = est.get_params(deep=False)
    if random_state is not None and "random_state" in params:
        est.set_params(random_state=random_state)
    if "validation_gap" in params and is_network(est):
        est.set_params(validation_gap=max(est.validation_gap, train_steps - 1, extra_gap))
    return est


def window_columns(spec, known, future, lead):
    """Column names of flattened windows: every channel of the oldest step first, each
    named by its offset from the origin (future-known channels read ``lead`` ahead)."""
    return [offset_name(str(c), o + (lead if i >= len(known) else 0))
            for o in range(-spec.lags_ + 1, 1) for i, c in enumerate(list(known) + list(future))]



def fitted_levels(estimator):
    """The quantile levels a fitted estimator's heads predict (its ``quantiles_``), or
    None: read from the fit, never from parameters a ``set_params`` may have changed."""
    levels = getattr(estimator, "quantiles_", None)
    return None if levels is None or not hasattr(estimator, "predict_quantiles") else levels

class Predictor:
    """Windows to a fitted estimator's predictions, for one series.

    Parameters
    ----------
    estimator : fitted regressor
    columns : list of str, optional
        Names of the flattened window columns (estimators without 3-D input).
    group : int, optional
        The series' embedding row (a network fitted with an embedding).
    bounds : (ndarray, ndarray), optional
        Lower and upper limits per output (see :func:`output_bounds`): predictions are
        clipped to them.
    """

    def __init__(self, estimator, columns=None, group=None, bounds=None):
        self.estimator = estimator
        self.columns = columns
        self.group = group
        self.bounds = bounds
        self.three_d = get_tags(estimator).input_tags.three_d_array

    def _clip(self, out):
        if self.bounds is None:
            return out
        lo, hi = self.bounds
        shape = (1, -1) + (1,) * (out.ndim - 2)
        return np.clip(out, lo.reshape(shape), hi.reshape(shape))

    def _inputs(self, Xw):
        if self.three_d:
            return Xw
        flat = Xw.reshape(len(Xw), -1)
        return flat if self.columns is None else pd.DataFrame(flat, columns=self.columns)

    def _groups(self, n):
        return None if self.group is None else np.full(n, self.group, np.int64)

    def predict(self, Xw):
        """Point predictions, (n, outputs)."""
        if self.group is not None:
            out = self.estimator._predict(Xw, self._groups(len(Xw)))
        else:
            out = self.estimator.predict(self._inputs(Xw))
        return self._clip(np.asarray(out).reshape(len(Xw), -1))

    def predict_quantiles(self, Xw):
        """Every quantile level, (n, outputs, levels)."""
        est = self.estimator
        if fitted_levels(est) is None:
            raise ValueError(f"predict_quantiles needs loss='quantile' in the estimator (e.g. "
                             f"RNNRegressor(loss='quantile', quantiles=[0.1, 0.5, 0.9])); "
                             f"`estimator` is {est!r}.")
        if self.group is not None:
            Q = est._predict_quantiles(Xw, self._groups(len(Xw)))
        else:
            Q = est.predict_quantiles(self._inputs(Xw))
        return self._clip(Q.reshape(len(Xw), -1, Q.shape[-1]))


def output_bounds(Yw, margin):
    """Per-output limits ``(lo, hi)`` of the normalised training targets ``Yw`` (n, steps,
    K), widened by ``margin`` times their range on each side (None when ``margin`` is None):
    a network asked about a window unlike any it was trained on cannot then forecast a
    change far beyond every change it has seen (on a log scale, an explosion)."""
    if margin is None or not len(Yw):
        return None
    Y2 = Yw.reshape(len(Yw), -1)
    lo, hi = np.nanmin(Y2, axis=0), np.nanmax(Y2, axis=0)
    span = hi - lo
    return lo - margin * span, hi + margin * span


def fit_estimator(est, Xw, Yw, columns=None, embedding=None, decoder=None, static=0):
    """Fit ``est`` on windows ``Xw`` (n, lags, C) and targets ``Yw`` (n, steps, K).

    ``embedding`` ``(table, codes)``: learned series vectors, for a network only;
    ``decoder``: packed encoder-decoder windows (``RNNRegressor._fit``'s), likewise;
    ``static``: the windows' last channels that a network maps to its initial state
    (other estimators read them as any other channel).
    Errors of estimators other than tsrnn's are re-raised naming ``estimator``.
    """
    Y2 = Yw.reshape(len(Yw), -1)
    # named in the forecaster's terms: the estimator would name its own `X`/`y`
    check_magnitude("y", Y2)
    check_magnitude("y or X", Xw)
    if is_network(est):
        return est._fit(Xw, Y2, None, incremental=False, embedding=embedding,
                        outputs_known=True, decoder=decoder, static=static)
    if decoder is not None:
        raise ValueError(f"strategy='seq2seq' trains an encoder and a decoder network end to "
                         f"end and needs an RNNRegressor; `estimator` is {est!r}. Use "
                         "strategy='direct' with other estimators.")
    if embedding is not None:
        raise ValueError(f"series_encoding='embedding' learns the vectors with the network's "
                         f"input gradient and needs an RNNRegressor; `estimator` is {est!r}. "
                         "Use series_encoding='onehot' with other estimators.")
    tags = get_tags(est)
    if Y2.shape[1] > 1 and not tags.target_tags.multi_output:
        raise ValueError(f"`estimator`={est!r} predicts one output, but each window has "
                         f"{Y2.shape[1]} targets (horizon x targets); wrap it in "
                         "sklearn.multioutput.MultiOutputRegressor or use "
                         "strategy='recursive'.")
    X_in = Predictor(est, columns)._inputs(Xw) if not tags.input_tags.three_d_array else Xw
    try:
        return est.fit(X_in, Y2[:, 0] if Y2.shape[1] == 1 else Y2)
    except (TypeError, ValueError) as err:
        raise type(err)(f"`estimator`={est!r} could not be fitted on the forecaster's "
                        f"windows ({Xw.shape[0]} windows of {Xw.shape[1]} steps x "
                        f"{Xw.shape[2]} channels): {err}") from err
