"""Forecast accuracy metrics, and scorers for scikit-learn model selection.

Point forecasts
---------------
mae, rmse
    Mean absolute error, root mean squared error.
mase, rmsse
    MAE and RMSE scaled by the in-sample error of the seasonal naive forecast on the
    training series (Hyndman & Koehler 2006; M5 competition).
smape
    Symmetric mean absolute percentage error, in percent (0 to 200).

Probabilistic forecasts
-----------------------
pinball
    Mean pinball (quantile) loss over several quantile levels.
coverage, interval_width
    Share of actuals inside a prediction interval; mean width of the interval.

Scorers (for ``scoring=`` in ``GridSearchCV``, ``cross_val_score``; negated, greater is better)
---------------------------------------------------------------------------------------------
mae_scorer, rmse_scorer, smape_scorer
    Made with :func:`sklearn.metrics.make_scorer`.
make_mase_scorer, make_rmsse_scorer
    Scaled-error scorers that take the scale from each fold's own actuals.

Point metrics take ``y_true`` and ``y_pred`` of one shape, ``(n_samples,)`` or
``(n_samples, n_outputs)``, as lists, arrays, pandas Series or DataFrames (by position; the
index is ignored). Both must be finite: drop missing actuals first. ``sample_weight`` and
``multioutput`` follow scikit-learn. Inputs are never modified.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import make_scorer

from tsrnn._validation import as_float_array, check_choice, check_float, check_int

__all__ = [
    "coverage", "interval_width", "mae", "mae_scorer", "make_mase_scorer", "make_rmsse_scorer",
    "mase", "pinball", "rmse", "rmse_scorer", "rmsse", "smape", "smape_scorer",
]

_MULTIOUTPUT = ("raw_values", "uniform_average")


def _array(name, value, *, ndims=(1, 2), allow_nan=False):
    """``value`` as a new-or-unwritten float64 array; NaN allowed only with ``allow_nan``."""
    if isinstance(value, (pd.Series, pd.DataFrame)):
        try:  # nullable dtypes: pd.NA becomes NaN, reported (or allowed) like any NaN
            value = value.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            value = value.to_numpy()  # not numeric: as_float_array names the dtype
    gaps = None
    if allow_nan:
        try:
            value = np.asarray(value)
        except ValueError:  # ragged lists: as_float_array reports them
            pass
        else:
            if value.dtype.kind == "f":  # check everything but the NaN gaps
                gaps = np.isnan(value)
                value = np.where(gaps, 0.0, value)
    arr = as_float_array(name, value, np.float64, ndims=ndims)
    return arr if gaps is None or not gaps.any() else np.where(gaps, np.nan, arr)


def _2d(arr):
    return arr[:, None] if arr.ndim == 1 else arr


def _pair(a, b, names=("y_true", "y_pred")):
    """Two same-shape, non-empty finite arrays, as 2-D (n_samples, n_outputs)."""
    a, b = _array(names[0], a), _array(names[1], b)
    if a.shape != b.shape:
        raise ValueError(f"`{names[0]}` and `{names[1]}` must have the same shape, "
                         f"got {a.shape} and {b.shape}.")
    if a.size == 0:
        raise ValueError(f"`{names[0]}` must not be empty, got shape {a.shape}.")
    return _2d(a), _2d(b)


def _weights(name, value, n, what):
    """Non-negative weights with a positive sum, ``n`` of them (one per ``what``)."""
    w = _array(name, value, ndims=(1,))
    if len(w) != n:
        raise ValueError(f"`{name}` has {len(w)} entries but there are {n} {what}.")
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"`{name}`={value!r} must be >= 0 with a positive sum.")
    return w


def _mean(err, sample_weight):
    """Per-column (weighted) mean over the samples of the 2-D ``err``."""
    w = None if sample_weight is None else _weights("sample_weight", sample_weight,
                                                    len(err), "samples")
    return np.average(err, axis=0, weights=w)


def _aggregate(values, multioutput):
    if isinstance(multioutput, str):
        check_choice("multioutput", multioutput, _MULTIOUTPUT)
        return values if multioutput == "raw_values" else float(values.mean())
    return float(np.average(values, weights=_weights("multioutput", multioutput,
                                                     len(values), "outputs")))


def _naive_scale(name, y, m, power, n_outputs):
    """Per column, mean |y_t - y_{t-m}|**power over the pairs where both values are finite."""
    shape, y = y.shape, _2d(y)
    if y.shape[1] != n_outputs:
        raise ValueError(f"`{name}` has {y.shape[1]} column(s) but `y_true` has {n_outputs}.")
    diff = np.abs(y[m:] - y[:-m]) ** power if len(y) > m else np.empty((0, n_outputs))
    ok = ~np.isnan(diff)  # a NaN on either side of the pair: a gap, skipped
    count = ok.sum(axis=0)
    if (count == 0).any():
        raise ValueError(f"`{name}` of shape {shape} needs, in every column, two finite values "
                         f"`m`={m} steps apart; column {int(np.argmin(count))} has none.")
    scale = np.where(ok, diff, 0.0).sum(axis=0) / count
    if (scale == 0).any():
        raise ValueError(f"`{name}` gives a zero scale in column {int(np.argmin(scale))}: the "
                         f"seasonal naive forecast with `m`={m} is exact in-sample (constant or "
                         "exactly periodic series), so the scaled error is undefined.")
    return scale


def _scaled(y_true, y_pred, y_scale, name, m, power, sample_weight, multioutput):
    """(mean |error|**power / naive scale)**(1/power), per column, then aggregated."""
    m = check_int("m", m)
    yt, yp = _pair(y_true, y_pred)
    y_scale = y_true if y_scale is None else y_scale  # scorers: the fold's own actuals
    scale = _naive_scale(name, _array(name, y_scale, allow_nan=True), m, power, yt.shape[1])
    err = _mean(np.abs(yt - yp) ** power, sample_weight) / scale
    return _aggregate(err ** (1.0 / power), multioutput)


def mae(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """Mean absolute error, mean |A - F|.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Actual and forecast values, finite, of the same shape.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights of the rows, with a positive sum.
    multioutput : {"raw_values", "uniform_average"} or array-like of shape (n_outputs,)
        One value per output column, their mean, or their weighted mean (as in scikit-learn).

    Returns
    -------
    float or ndarray of shape (n_outputs,)
        An array for ``multioutput="raw_values"``, else a float.

    Examples
    --------
    >>> mae([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.5
    >>> mae([[1, 2], [3, 4]], [[2, 2], [3, 6]], multioutput="raw_values")
    array([0.5, 1. ])
    """
    yt, yp = _pair(y_true, y_pred)
    return _aggregate(_mean(np.abs(yt - yp), sample_weight), multioutput)


def rmse(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """Root mean squared error, sqrt(mean (A - F)**2).

    As in :func:`sklearn.metrics.root_mean_squared_error`, the root is taken per output column
    before the columns are averaged.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
    sample_weight : array-like of shape (n_samples,), optional
    multioutput : {"raw_values", "uniform_average"} or array-like of shape (n_outputs,)
        As in :func:`mae`.

    Returns
    -------
    float or ndarray of shape (n_outputs,)

    Examples
    --------
    >>> rmse([1, 2, 3, 4], [1, 2, 3, 6])
    1.0
    """
    yt, yp = _pair(y_true, y_pred)
    return _aggregate(np.sqrt(_mean((yt - yp) ** 2, sample_weight)), multioutput)


def mase(y_true, y_pred, *, y_train, m=1, sample_weight=None, multioutput="uniform_average"):
    """Mean absolute scaled error: MAE over the in-sample MAE of the seasonal naive forecast.

    Per output column, MAE(y_true, y_pred) / mean |y_t - y_{t-m}| over ``y_train``
    (Hyndman & Koehler, 2006). Below 1: better than the seasonal naive forecast in-sample.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Actual and forecast values, finite, of the same shape.
    y_train : array-like of shape (n_train,) or (n_train, n_outputs)
        Training series in time order, one column per output. NaN gaps are allowed: pairs
        with a NaN are skipped. Each column needs a finite pair and a non-zero scale.
    m : int, default=1
        Seasonal period of the naive forecast (1: the random walk).
    sample_weight, multioutput
        As in :func:`mae` (the weights apply to the errors, not to the scale).

    Returns
    -------
    float or ndarray of shape (n_outputs,)

    Examples
    --------
    >>> mase([6, 7], [6.5, 7.5], y_train=[1, 2, 3, 4, 5])
    0.5
    """
    return _scaled(y_true, y_pred, y_train, "y_train", m, 1, sample_weight, multioutput)


def rmsse(y_true, y_pred, *, y_train, m=1, sample_weight=None, multioutput="uniform_average"):
    """Root mean squared scaled error (M5): sqrt(MSE / in-sample MSE of the seasonal naive).

    Per output column, sqrt(MSE(y_true, y_pred) / mean (y_t - y_{t-m})**2 over ``y_train``).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
    y_train : array-like of shape (n_train,) or (n_train, n_outputs)
    m : int, default=1
    sample_weight, multioutput
        As in :func:`mase`.

    Returns
    -------
    float or ndarray of shape (n_outputs,)

    Examples
    --------
    >>> rmsse([9, 11], [11, 13], y_train=[1, 3, 5, 7])
    1.0
    """
    return _scaled(y_true, y_pred, y_train, "y_train", m, 2, sample_weight, multioutput)


def smape(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """Symmetric MAPE in percent, 0 to 200: mean of 200 |F - A| / (|A| + |F|).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
    sample_weight : array-like of shape (n_samples,), optional
    multioutput : {"raw_values", "uniform_average"} or array-like of shape (n_outputs,)
        As in :func:`mae`.

    Returns
    -------
    float or ndarray of shape (n_outputs,)

    Examples
    --------
    >>> smape([100, 0, 5], [300, 0, -5])  # terms 100, 0 (0/0), 200
    100.0
    """
    yt, yp = _pair(y_true, y_pred)
    num, den = 200.0 * np.abs(yp - yt), np.abs(yt) + np.abs(yp)
    # actual and forecast both 0: a perfect forecast, counted as 0 rather than 0/0
    terms = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return _aggregate(_mean(terms, sample_weight), multioutput)


def pinball(y_true, y_quantiles, quantiles, *, sample_weight=None):
    """Mean pinball (quantile) loss, averaged over the quantile levels.

    For level q and error d = A - F the loss is max(q d, (q - 1) d). Per level this equals
    :func:`sklearn.metrics.mean_pinball_loss` with ``alpha=q`` (mean over the outputs).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Actual values, finite.
    y_quantiles : array-like of shape (n_samples, n_quantiles) or (n_samples, n_outputs, n_quantiles)
        Quantile forecasts; the 2-D form is for a single output.
    quantiles : float or sequence of float
        The levels, strictly between 0 and 1, in the order of the last axis of ``y_quantiles``.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative sample weights with a positive sum.

    Returns
    -------
    float

    Examples
    --------
    >>> pinball([1, 2], [[0, 1], [1, 3]], [0.2, 0.5])  # (0.2 + 0.25) / 2
    0.225
    """
    qs = np.ravel(quantiles).tolist()  # Python scalars: plain reprs in the messages
    if np.ndim(quantiles) > 1 or not qs:
        raise ValueError(f"`quantiles`={quantiles!r} must be a level or a non-empty 1-D list.")
    qs = np.array([check_float("quantiles", q, low=0, high=1, low_open=True, high_open=True)
                   for q in qs])
    yt = _array("y_true", y_true)
    if yt.size == 0:
        raise ValueError(f"`y_true` must not be empty, got shape {yt.shape}.")
    n, k = _2d(yt).shape
    yq = _array("y_quantiles", y_quantiles, ndims=(2, 3))
    want = (n, len(qs)) if k == 1 and yq.ndim == 2 else (n, k, len(qs))
    if yq.shape != want:
        raise ValueError(f"`y_quantiles` must have shape {want} for `y_true` of shape {yt.shape} "
                         f"and {len(qs)} `quantiles`, got {yq.shape}.")
    diff = _2d(yt)[:, :, None] - yq.reshape(n, k, len(qs))
    loss = np.maximum(qs * diff, (qs - 1.0) * diff).mean(axis=1)  # (n_samples, n_quantiles)
    return float(_mean(loss, sample_weight).mean())


def coverage(y_true, lower, upper):
    """Fraction of the actuals inside the interval ``[lower, upper]``, bounds included.

    A crossed interval (``upper < lower``, e.g. crossing quantile forecasts) contains nothing.

    Parameters
    ----------
    y_true, lower, upper : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Actual values and interval bounds, finite, of the same shape.

    Returns
    -------
    float
        Between 0 and 1, over all elements.

    Examples
    --------
    >>> coverage([1, 2, 3, 4], lower=[0, 2, 3.5, 0], upper=[2, 3, 4, 3])
    0.5
    """
    yt, lo = _pair(y_true, lower, ("y_true", "lower"))
    hi = _pair(y_true, upper, ("y_true", "upper"))[1]
    return float(np.mean((lo <= yt) & (yt <= hi)))


def interval_width(lower, upper):
    """Mean width ``upper - lower`` of prediction intervals.

    Parameters
    ----------
    lower, upper : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Interval bounds, finite, of the same shape, with ``upper >= lower`` everywhere.

    Returns
    -------
    float

    Examples
    --------
    >>> interval_width([0, 1], [2, 4])
    2.5
    """
    lo, hi = _pair(lower, upper, ("lower", "upper"))
    if (hi < lo).any():
        r, c = np.argwhere(hi < lo)[0]
        raise ValueError(f"`upper` must be >= `lower`; at row {r}, column {c}: "
                         f"`upper`={float(hi[r, c])!r} < `lower`={float(lo[r, c])!r}.")
    return float(np.mean(hi - lo))


def _fold_mase(y_true, y_pred, *, m=1, sample_weight=None, multioutput="uniform_average"):
    """MASE scaled by the seasonal naive error along the rows of ``y_true`` itself."""
    return _scaled(y_true, y_pred, None, "y_true", m, 1, sample_weight, multioutput)


def _fold_rmsse(y_true, y_pred, *, m=1, sample_weight=None, multioutput="uniform_average"):
    """RMSSE scaled by the seasonal naive error along the rows of ``y_true`` itself."""
    return _scaled(y_true, y_pred, None, "y_true", m, 2, sample_weight, multioutput)


def make_mase_scorer(m=1):
    """A scorer of the MASE for ``scoring=`` in scikit-learn (it returns minus the MASE).

    A scorer is not given the training series, so the scale is the in-sample error of the
    seasonal naive forecast along the sample axis of the fold's own ``y_true`` (per column if
    2-D). So the rows must be consecutive forecast origins in time order, as with
    :class:`~sklearn.model_selection.TimeSeriesSplit` (not shuffled folds), and each test fold
    needs more than ``m`` rows and a non-constant target. The values differ from
    ``mase(..., y_train=...)``, scaled on the training series: compare them only to each other.

    Parameters
    ----------
    m : int, default=1
        Seasonal period of the naive forecast.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``, made with :func:`sklearn.metrics.make_scorer`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyRegressor
    >>> X, y = np.zeros((4, 1)), np.array([1.0, 2.0, 4.0, 7.0])
    >>> make_mase_scorer()(DummyRegressor().fit(X, y), X, y)  # MAE 2 / naive MAE 2
    -1.0
    """
    return make_scorer(_fold_mase, greater_is_better=False, m=check_int("m", m))


def make_rmsse_scorer(m=1):
    """A scorer of the RMSSE for ``scoring=`` in scikit-learn (it returns minus the RMSSE).

    Scaled on each fold's own ``y_true``, with the caveats of :func:`make_mase_scorer`.

    Parameters
    ----------
    m : int, default=1
        Seasonal period of the naive forecast.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``, made with :func:`sklearn.metrics.make_scorer`.
    """
    return make_scorer(_fold_rmsse, greater_is_better=False, m=check_int("m", m))


mae_scorer = make_scorer(mae, greater_is_better=False)
rmse_scorer = make_scorer(rmse, greater_is_better=False)
smape_scorer = make_scorer(smape, greater_is_better=False)
