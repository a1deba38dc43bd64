"""Ensembles of forecasters: :class:`RNNEnsembleForecaster`.

Several copies of one forecaster, differing in seed, input window (``lags``)
and loss, fitted in one call and combined by their median (or mean).  Networks
that fit in well under a second make an ensemble affordable, and combining
networks that see different windows and optimise different losses is what made
N-BEATS and the M4 winners accurate.

The ensemble's intervals are split-conformal like a single forecaster's, but on
the *combined* forecasts: every member holds out its last calibration windows,
the ensemble keeps the windows all members held out, and scores the combined
forecast there, in the first member's units (its series' scale, log scale and
seasonal decomposition), so that its intervals are built as a member's.
"""

from __future__ import annotations

import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from tsrnn._engine import interrupts
from tsrnn._forecast import forecast, windows
from tsrnn._forecast.global_model import panel_series
from tsrnn._forecast.regressor import fitted_levels
from tsrnn._many import check_workers
from tsrnn._validation import (
    check_choice,
    check_int,
    check_random_state,
    naming,
)
from tsrnn.forecasting import RNNForecaster

# members an ensemble may have: beyond this the seeds and members alone fill memory, and
# the median of a few dozen networks has long stopped changing
MAX_MODELS = 1000

__all__ = ["RNNEnsembleForecaster"]

_COMBINE = {"median": np.median, "mean": np.mean}


class RNNEnsembleForecaster(BaseEstimator):
    """An ensemble of forecasters that differ in seed, input window and loss.

    Member ``i`` is a clone of ``forecaster`` with ``lags[i % len(lags)]``,
    loss ``losses[(i // len(lags)) % len(losses)]`` and its own seed, so that
    ``n_models = len(lags) * len(losses)`` covers every pair once and further
    members repeat the pairs with other seeds.  Forecasts (points and
    quantiles) are the members' median (or mean), per step and series.

    Parameters
    ----------
    forecaster : RNNForecaster, default=None
        The member template (``None``: ``RNNForecaster()``). Cloned, never
        modified; a global model makes every member global.
    n_models : int, default=5
        Members, at most 1000.
    lags : list of int or "auto", optional
        Input windows the members cycle through; default the forecaster's own.
    losses : list of str, optional
        Losses of the members' networks (``RNNRegressor``'s ``loss``: e.g.
        ``["absolute_error", "squared_error", "huber"]``); default the
        network's own. Needs an ``RNNRegressor`` estimator.
    combine : {"median", "mean"}, default="median"
        How member forecasts combine.
    n_jobs : int, optional
        Members fitted at once, in threads (the kernels release the GIL; each
        member's network then runs on one thread). ``None``: one at a time;
        ``-1``: all cores; at most 100,000. Results are identical for any value.
    random_state : int, RandomState instance or None, default=None
        Seeds the members: the first gets it as is (so an ensemble of one is
        the forecaster itself), the others seeds drawn from it. ``None``: the
        forecaster's own ``random_state``.

    Attributes
    ----------
    members_ : list of RNNForecaster
        The fitted members.
    member_params_ : list of dict
        Each member's ``lags``, ``loss`` and ``random_state``.
    member_fit_seconds_ : ndarray of shape (n_models,)
        Wall time of each member's fit (the cost of a member).
    calibration_residuals_ : ndarray of shape (n_calibration, horizon, n_targets) or None
        Actual minus combined forecast on the calibration windows all members
        held out, in each series' unit (its scale in a global model).

    Examples
    --------
    >>> from tsrnn import RNNEnsembleForecaster, RNNForecaster
    >>> from tsrnn.datasets import load_weather
    >>> y = load_weather()["temp_max"]
    >>> base = RNNForecaster(horizon=3, estimator=RNNForecaster.default_estimator(max_iter=3))
    >>> ens = RNNEnsembleForecaster(base, n_models=2, lags=[14, 28], random_state=0).fit(y)
    >>> ens.predict().shape
    (3,)
    """

    def __init__(self, forecaster=None, *, n_models=5, lags=None, losses=None,
                 combine="median", n_jobs=None, random_state=None):
        self.forecaster = forecaster
        self.n_models = n_models
        self.lags = lags
        self.losses = losses
        self.combine = combine
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ checks
    def _base(self):
        base = RNNForecaster() if self.forecaster is None else self.forecaster
        if not isinstance(base, RNNForecaster):
            raise TypeError(f"`forecaster` must be an RNNForecaster, got "
                            f"{type(base).__name__}.")
        return base

    def _member_params(self):
        """Each member's (lags, loss, random_state) as forecaster parameters."""
        base = self._base()
        n = check_int("n_models", self.n_models)
        if n > MAX_MODELS:
            raise ValueError(f"`n_models`={n!r} must be at most {MAX_MODELS} (each member is a "
                             "separately trained forecaster).")
        check_workers(self.n_jobs)
        check_choice("combine", self.combine, tuple(_COMBINE))
        lags = [base.lags] if self.lags is None else list(_as_list("lags", self.lags))
        for v in lags:
            if v != "auto":
                check_int("lags", v)
        losses = [None] if self.losses is None else list(_as_list("losses", self.losses))
        if self.losses is not None:
            est = base.estimator if base.estimator is not None else base.default_estimator()
            if "loss" not in est.get_params(deep=False):
                raise ValueError(f"`losses`={self.losses!r} needs a network estimator with a "
                                 f"`loss`; the forecaster's estimator is {est!r}.")
        seed = self.random_state if self.random_state is not None else base.random_state
        # the first member keeps the seed as given; the others draw theirs from it
        seeds = [seed] + ([None] * (n - 1) if seed is None else [
            int(s) for s in check_random_state(seed).randint(np.iinfo(np.int32).max,
                                                             size=n - 1)])
        out = []
        for i in range(n):
            params = {"lags": lags[i % len(lags)], "random_state": seeds[i]}
            loss = losses[(i // len(lags)) % len(losses)]
            if loss is not None:
                params["estimator__loss"] = loss
            out.append(params)
        return out

    # -------------------------------------------------------------------- fit
    def fit(self, y, X=None):
        """Fit every member on ``y`` (and ``X``), as :meth:`RNNForecaster.fit`.

        Returns
        -------
        self
        """
        fitted = dict(self.__dict__)
        try:
            with naming(self), interrupts.deferred(raise_on_exit=True):
                params = self._member_params()
                members = [clone(self._base()).set_params(**p) for p in params]
                runs = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                    delayed(_fit_member)(m, y, X) for m in members)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(fitted)
            raise
        self.members_ = [m for m, _ in runs]
        self.member_fit_seconds_ = np.array([t for _, t in runs])
        self.member_params_ = [{"lags": p["lags"], "loss": p.get("estimator__loss"),
                                "random_state": p["random_state"]} for p in params]
        self._calibrate()
        return self

    def _calibrate(self):
        """The combined forecast's residuals on the calibration windows every member held
        out, in the model units of the first member (its series' scale, log and
        seasonal decomposition), so that intervals are built as a member builds its own."""
        first = self.members_[0]
        if first.calibration_residuals_ is None:
            self.calibration_residuals_ = None
            return
        # each member's row of every (series, origin) key; the keys all members have
        rows = [{key: i for i, key in enumerate(map(tuple, m._cal_keys.tolist()))}
                for m in self.members_]
        common = [key for key in rows[0] if all(key in r for r in rows[1:])]
        values = [m._cal_values[[r[key] for key in common]]
                  for m, r in zip(self.members_, rows)]
        actual = values[0][..., 0]
        point = _COMBINE[self.combine]([v[..., 1] for v in values], axis=0)
        residuals = np.empty_like(actual)
        for i, (code, _, origin) in enumerate(common):
            state = first._series_state(
                first.series_ids_[code] if first._is_global else None).as_trained()
            steps = origin + np.arange(1, first.horizon + 1)
            residuals[i] = state.to_units(actual[i], steps) - state.to_units(point[i], steps)
        self.calibration_residuals_ = residuals

    # ---------------------------------------------------------------- predict
    def _combined(self, what, X, y):
        """Members' ``_values`` combined: ``{series: (index, values, steps)}``."""
        outs = [m._values(what, X, y) for m in self.members_]
        combined = {}
        for sid, (index, _, steps) in outs[0].items():
            stack = [o[sid][1] for o in outs]
            values = _COMBINE[self.combine](stack, axis=0)
            if what == "quantiles":
                values = np.sort(values, axis=-1)  # combined levels stay ordered
            combined[sid] = (index, values, steps)
        return combined

    def predict(self, X=None, y=None):
        """The members' combined forecast, as :meth:`RNNForecaster.predict`.

        Returns
        -------
        Series or DataFrame
        """
        check_is_fitted(self, "members_")
        return forecast.check_finite(
            self.members_[0]._frame(self._combined("point", X, y), "point"), "point")

    def predict_interval(self, coverage=0.9, X=None, y=None):
        """Split-conformal intervals around the combined forecast (see the module text),
        framed as :meth:`RNNForecaster.predict_interval`.

        Parameters
        ----------
        coverage : float in (0, 1), default=0.9
        X, y : as :meth:`predict`

        Returns
        -------
        DataFrame
            With ``attrs["coverage"]`` as :meth:`RNNForecaster.predict_interval`'s.
        """
        coverage = windows.check_interval(self, coverage, "members_")
        half = self._half_width(coverage)
        histories = self._histories(y)
        out = {}
        for sid, (index, values, steps) in self._combined("point", X, y).items():
            state = self.members_[0]._series_state(sid, histories.get(sid))
            out[sid] = (index, np.stack(_bounds(state, values[..., 0], half, steps), axis=2),
                        steps)
        frame = forecast.check_finite(self.members_[0]._frame(out, "interval"), "interval")
        frame.attrs["coverage"] = coverage
        return frame

    def predict_quantiles(self, X=None, y=None):
        """The members' quantile forecasts, combined per level (and kept ordered), for
        members whose networks have ``loss="quantile"``.

        Returns
        -------
        DataFrame
        """
        check_is_fitted(self, "members_")
        first = self.members_[0]
        levels = [fitted_levels(m.estimator_) for m in self.members_]
        if any(v is None or not np.array_equal(v, levels[0]) for v in levels):
            raise ValueError("predict_quantiles needs loss='quantile' with the same levels in "
                             "every member's network; `losses` or the estimator gives others.")
        if first.strategy == "recursive":
            raise ValueError("predict_quantiles needs strategy='direct' or 'seq2seq': a "
                             "recursive forecast cannot feed back a quantile.")
        return forecast.check_finite(
            first._frame(self._combined("quantiles", X, y), "quantiles", list(levels[0])),
            "quantile")

    def _histories(self, y):
        first = self.members_[0]
        if y is None or not first._is_global:
            return {}
        return {sid: s.rename(first.targets_[0]) for sid, s in panel_series(first, y).items()}

    # ------------------------------------------------ what backtests read (protocol)
    def _template(self):
        base = self._base()
        params = self._member_params()
        lags = [p["lags"] for p in params]
        # the longest window decides how early a backtest may start
        return clone(base).set_params(
            lags="auto" if "auto" in lags else max(lags))._template()

    def _half_width(self, coverage):
        return windows.half_width(self.calibration_residuals_, coverage)

    def _forecast_at(self, A, F, pos, half=None, sid=None):
        points = [m._forecast_at(A, F, pos, None, sid)[0] for m in self.members_]
        point = _COMBINE[self.combine](points, axis=0)
        if half is None:
            return point, None
        # the arrays start at the series' first observation (step 0)
        state = self.members_[0]._series_state(sid)
        return point, _bounds(state, point, half, forecast.step_numbers(self.members_[0], pos))


def _bounds(state, point, half, steps):
    """(lower, upper) around forecasts ``point`` (own units, at step numbers ``steps``) as
    a member builds them from the conformal half-width ``half`` (model units)."""
    return forecast.bounds(state, state.to_units(point, steps), half, steps)


def _as_list(name, value):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"`{name}`={value!r} must be a list.")
    value = list(value)
    if not value:
        raise ValueError(f"`{name}` must not be empty.")
    return value


def _fit_member(member, y, X):
    t0 = time.perf_counter()
    member.fit(y, X)
    return member, time.perf_counter() - t0
