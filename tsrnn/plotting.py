"""Plots of forecasts, backtests and training curves (matplotlib, imported only when called).

Every function draws on a given ``ax`` (or a new figure) and returns the
axes, so plots compose with the rest of a user's figure; nothing is shown or
saved unless asked (``ax.figure.savefig(...)``).  A new figure is sized and
lettered for a slide (:data:`SLIDE_STYLE`: 10 x 5 inches a panel at 150 dpi, so
a saved PNG is 1500 pixels wide, with 12-point text); on given axes the user's
own style applies.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd

from tsrnn.windowing import series_frame

__all__ = ["backtest_score", "plot_backtest", "plot_forecast", "plot_loss_curve"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        raise ImportError("tsrnn.plotting needs matplotlib: pip install matplotlib") from None
    return plt


# matplotlib settings of the figures made here: read from the back of a room
SLIDE_STYLE = {"figure.dpi": 150, "savefig.dpi": "figure", "font.size": 12,
               "axes.titlesize": 14, "axes.labelsize": 12, "legend.fontsize": 11,
               "xtick.labelsize": 11, "ytick.labelsize": 11}
WIDTH, HEIGHT, PANEL = 10.0, 5.0, 3.4   # inches: one panel, or PANEL a panel of several


def _style(ax):
    """The slide style while drawing a figure of our own (any text made meanwhile takes
    its sizes); nothing on axes the user gave."""
    return _pyplot().rc_context(SLIDE_STYLE) if ax is None else contextlib.nullcontext()


def _axes(ax, n=1):
    if ax is not None:
        axes = np.atleast_1d(ax)
        if len(axes) != n:
            raise ValueError(f"`ax` must hold {n} axes (one per target), got {len(axes)}.")
        return axes
    plt = _pyplot()
    height = HEIGHT if n == 1 else 1.2 + PANEL * n
    _, axes = plt.subplots(n, 1, figsize=(WIDTH, height), squeeze=False, sharex=True,
                           layout="constrained")
    return axes[:, 0]


def _level_label(level, interval=None):
    """The band's legend: "90 % interval" for ``level`` 0.9 (default: the ``coverage``
    that :meth:`RNNForecaster.predict_interval` records in the frame's ``attrs``)."""
    if level is None and interval is not None:
        level = getattr(interval, "attrs", {}).get("coverage")
    if level is None:
        return "interval"
    return f"{100 * float(level):g} % interval"


def backtest_score(result, baseline="best"):
    """A backtest's MASE as a short text: ``"backtest MASE 0.683 (seasonal naive 1.412)"``.

    Parameters
    ----------
    result : BacktestResult
    baseline : {"best", "seasonal_naive", "naive", None}, default="best"
        The baseline shown beside the forecaster's (``"best"``: the one with the lower
        MASE).

    Returns
    -------
    str or None
        None when the backtest has no finite MASE.
    """
    if "mase" not in result.summary.index:
        return None
    s = result.summary.loc["mase"]
    if not np.isfinite(float(s["forecaster"])):
        return None
    text = f"backtest MASE {float(s['forecaster']):.3f}"
    if baseline == "best":
        baseline = min(("seasonal_naive", "naive"), key=lambda c: float(s[c]))
    if baseline and np.isfinite(float(s[baseline])):
        text += f" ({baseline.replace('_', ' ')} {float(s[baseline]):.3f})"
    return text


def _x(index):
    """Values matplotlib puts on a date axis (tz-aware stamps as local wall time)."""
    if isinstance(index, pd.DatetimeIndex):
        return index.tz_localize(None) if index.tz is not None else index
    return np.asarray(index)


def _columns(obj, what):
    if isinstance(obj, pd.Series):
        return series_frame(obj)
    if isinstance(obj, pd.DataFrame):
        return obj
    raise TypeError(f"`{what}` must be a pandas Series or DataFrame, got {type(obj).__name__}.")


def plot_forecast(history, forecast, *, interval=None, actual=None, last=None, ax=None,
                  title=None, level=None, backtest=None):
    """History, forecast, interval band and (when known) the actual values, on real dates.

    The forecast line starts at the last observation, so that it reads as the
    continuation of the history.

    Parameters
    ----------
    history : Series or DataFrame
        The observed series (the ``y`` the forecaster was fitted on).
    forecast : Series or DataFrame
        :meth:`RNNForecaster.predict` output, same columns as ``history``.
    interval : DataFrame, optional
        :meth:`RNNForecaster.predict_interval` output, drawn as a band.
    actual : Series or DataFrame, optional
        What really happened over the forecast steps.
    last : int, optional
        History points shown; default ``max(5 * horizon, 60)``.
    ax : matplotlib Axes or array of Axes (one per target), optional
    title : str, optional
    level : float, optional
        The interval's coverage, named in the legend ("90 % interval"); default
        the ``coverage`` recorded by :meth:`RNNForecaster.predict_interval`.
    backtest : BacktestResult, optional
        Its MASE and the best baseline's (:func:`backtest_score`) are added to the
        title.

    Returns
    -------
    ndarray of matplotlib Axes
        One per target.
    """
    hist, fc = _columns(history, "history"), _columns(forecast, "forecast")
    if list(hist.columns) != list(fc.columns):
        raise ValueError(f"`history` columns {list(hist.columns)} and `forecast` columns "
                         f"{list(fc.columns)} differ.")
    act = None if actual is None else _columns(actual, "actual")
    if last is None:
        last = max(5 * len(fc), 60)
    hist = hist.iloc[-last:]
    score = None if backtest is None else backtest_score(backtest)
    title = "; ".join(t for t in (title, score) if t) or None
    with _style(ax):
        axes = _axes(ax, hist.shape[1])
        for a, name in zip(axes, hist.columns):
            _draw_forecast(a, name, hist, fc, interval, act, _level_label(level, interval))
        axes[0].legend(loc="best")
        if title:
            axes[0].set_title(title)
    return axes


def _draw_forecast(a, name, hist, fc, interval, act, band):
    observed = hist[name].dropna()
    x, values = _x(fc.index), fc[name].to_numpy()
    a.plot(_x(hist.index), hist[name].to_numpy(), color="0.25", lw=1.2, label="history")
    if len(observed) and len(fc) and observed.index[-1] < fc.index[0]:
        # joined to the last observation (unmarked): the forecast continues the history
        a.plot(_x(observed.index[-1:].append(fc.index)),
               np.concatenate([observed.to_numpy()[-1:], values]), color="C0", lw=2,
               marker=".", markevery=slice(1, None), label="forecast")
    else:
        a.plot(x, values, color="C0", lw=2, marker=".", label="forecast")
    if interval is not None:
        lo, hi = ((interval["lower"], interval["upper"]) if hist.shape[1] == 1 and
                  "lower" in interval.columns else
                  (interval[(name, "lower")], interval[(name, "upper")]))
        a.fill_between(_x(interval.index), lo.to_numpy(), hi.to_numpy(), color="C0",
                       alpha=0.2, lw=0, label=band)
    if act is not None and name in act.columns:
        a.plot(_x(act.index), act[name].to_numpy(), color="C3", lw=1.2, ls="--",
               label="actual")
    a.axvline(_x(hist.index[-1:])[0], color="0.6", lw=0.8, ls=":")
    a.set_ylabel(str(name))
    a.grid(alpha=0.3)


def plot_backtest(result, *, target=None, baseline="seasonal_naive", ax=None, title=None,
                  level=None):
    """Actual series against every origin's forecast path, from :func:`tsrnn.model_selection.backtest`.

    Parameters
    ----------
    result : BacktestResult
    target : optional
        Which target to draw when several were forecast (default: the first).
    baseline : {"seasonal_naive", "naive", None}, default="seasonal_naive"
        Also draw a baseline's paths (thin, dashed).
    ax : matplotlib Axes, optional
    title : str, optional
        Default: the MASE of the forecaster and the baseline.
    level : float, optional
        The intervals' coverage (the ``coverage`` the backtest was run with), named in
        the legend ("90 % interval").

    Returns
    -------
    matplotlib Axes
    """
    with _style(ax):
        return _draw_backtest(result, target, baseline, ax, title, level)


def _draw_backtest(result, target, baseline, ax, title, level):
    f = result.forecasts
    targets = list(dict.fromkeys(f["target"]))
    target = targets[0] if target is None else target
    if target not in targets:
        raise ValueError(f"`target`={target!r} is not one of the backtest's targets {targets}.")
    if baseline not in (None, "naive", "seasonal_naive"):
        raise ValueError(f"`baseline`={baseline!r} must be 'seasonal_naive', 'naive' or None.")
    rows = f[f["target"] == target]
    a = _axes(ax)[0]
    truth = rows.drop_duplicates("time").set_index("time")["actual"].sort_index()
    a.plot(_x(truth.index), truth.to_numpy(), color="0.25", lw=1.2, label="actual")
    for k, (_, path) in enumerate(rows.groupby("origin", sort=True)):
        t = _x(pd.Index(path["time"]))
        a.plot(t, path["forecast"].to_numpy(), color="C0", lw=1.2,
               label="forecast" if k == 0 else None)
        if baseline:
            a.plot(t, path[baseline].to_numpy(), color="C1", lw=0.8, ls="--",
                   label=baseline.replace("_", " ") if k == 0 else None)
        if "lower" in path.columns:
            a.fill_between(t, path["lower"].to_numpy(), path["upper"].to_numpy(), color="C0",
                           alpha=0.12, lw=0, label=_level_label(level) if k == 0 else None)
    if title is None and "mase" in result.summary.index:
        s = result.summary.loc["mase"]
        title = f"{target}: MASE {s['forecaster']:.3f}" + (
            f" vs {baseline.replace('_', ' ')} {s[baseline]:.3f}" if baseline else "")
    if title:
        a.set_title(title)
    a.set_ylabel(str(target))
    a.grid(alpha=0.3)
    a.legend(loc="best")
    return a


def plot_loss_curve(model, *, ax=None, title=None):
    """Training loss per epoch and, with early stopping, the validation loss.

    Parameters
    ----------
    model : RNNRegressor, RNNClassifier or RNNForecaster (fitted)
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    est = getattr(model, "estimator_", model)
    if not hasattr(est, "loss_curve_"):
        raise ValueError(f"`model` ({type(model).__name__}) is not fitted: it has no loss curve.")
    with _style(ax):
        return _draw_loss_curve(est, ax, title)


def _draw_loss_curve(est, ax, title):
    a = _axes(ax)[0]
    epochs = np.arange(1, len(est.loss_curve_) + 1)
    a.plot(epochs, est.loss_curve_, color="C0", label="training loss")
    if est.validation_scores_:
        a.plot(epochs, -np.asarray(est.validation_scores_), color="C1", label="validation loss")
    a.set_xlabel("epoch")
    a.set_ylabel("loss (standardised units)")
    a.set_yscale("log" if min(est.loss_curve_) > 0 else "linear")
    a.grid(alpha=0.3)
    a.legend(loc="best")
    if title:
        a.set_title(title)
    return a
