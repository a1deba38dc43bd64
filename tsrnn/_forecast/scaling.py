"""How a series is put into the network's units: log scale, window reference, season.

Each series a forecaster fits gets a :class:`Scaling`, decided once from its
training part (never from the values it is calibrated on; a decomposition is
re-estimated on every fitted value for forecasting, see :func:`resolve`):

- ``log``: the targets are forecast on a log scale (positive series only), so
  that every window's level is divided out instead of subtracted and the
  network sees relative changes;
- ``norm``: what each window is expressed relative to.  ``"last"``: its last
  observed value (an output of zero is the naive forecast).  ``"season"``:
  inputs relative to the last value as well, targets relative to the value
  one season before each of them (an output of zero is the seasonal naive
  forecast).  ``"decompose"``: the series is first seasonally adjusted by a classical
  decomposition (as the M4 competition's benchmarks do), multiplicative for a
  positive series and additive otherwise, and its windows are then relative to
  their last adjusted value; forecasts are re-seasonalised.  ``None``: absolute
  values;
- ``season``: the season length (observations per cycle);
- ``seasonal``: the decomposition's seasonal indices, one per phase of the
  season (counted from the series' first observation), and ``mult`` whether
  they divide (multiplicative) or subtract (additive).

``"auto"`` choices follow a documented rule: the log scale for series whose
training values are all positive; the classical decomposition when the series
has an exact season (``season > 1``, not weekly data's approximate 52 unless
given), at least three full seasons and passes the
seasonality test of the M4 competition's benchmarks (the autocorrelation at lag
``season`` above its 90 % limit), else windows relative to their last value.
The rule was chosen on the M1 and Tourism competitions (``benchmarks/RESULTS.md``):
the decomposition beat the previous-season reference in every seasonal frequency.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from pandas.tseries import offsets

WINDOW_NORMS = ("last", "season", "decompose", "auto")  # or None: absolute values


class Scaling(NamedTuple):
    """One series' normalisation: ``log`` scale, window reference ``norm``, ``season``, and
    a classical decomposition's ``seasonal`` indices ``(season, n_targets)`` (None: none)
    that divide (``mult``) or are subtracted from the series."""

    log: bool = False
    norm: object = "last"
    season: int = 1
    seasonal: object = None
    mult: bool = False


def season_from_axis(axis) -> int:
    """Observations per natural cycle of a time axis: 12 per year for monthly data, 4 for
    quarterly, 7 per week for daily, 5 for business days, 24 per day for hourly (a day
    over the step for any sub-daily step), 52 for weekly; 1 for yearly data, other
    calendar steps and integer indexes (give ``season_length`` for those)."""
    off = axis.offset
    if isinstance(off, int):
        return 1
    if off.n != 1 and not isinstance(off, offsets.Tick):
        return 1
    if isinstance(off, (offsets.MonthBegin, offsets.MonthEnd, offsets.BusinessMonthBegin,
                        offsets.BusinessMonthEnd, offsets.SemiMonthBegin)):
        return 12 if not isinstance(off, offsets.SemiMonthBegin) else 24
    if isinstance(off, (offsets.QuarterBegin, offsets.QuarterEnd, offsets.BQuarterBegin,
                        offsets.BQuarterEnd)):
        return 4
    if isinstance(off, offsets.Week):
        return 52
    if isinstance(off, (offsets.BusinessDay, offsets.CustomBusinessDay)):
        return 5
    if isinstance(off, offsets.Day):  # a calendar day (not a fixed 24 h since pandas 3)
        return 7
    if isinstance(off, offsets.Tick):
        day = 86_400_000_000_000
        step = off.nanos
        if step == day:
            return 7
        if step < day and day % step == 0:
            return day // step
    return 1


def season_length(spec, axis) -> int:
    """``spec.season_length``, else the axis' natural cycle."""
    return int(spec.season_length) if spec.season_length is not None else season_from_axis(axis)


def exact_season(spec, axis) -> bool:
    """Whether the season repeats in whole steps: not so for weekly data's 52 (a year is
    52.18 weeks, so the cycle drifts a week in six years) unless ``season_length`` is
    given.  ``"auto"`` decomposes only exact seasons: on the bundled weekly CO2 series
    the 52-week decomposition raised the backtest's MASE from 0.39 to 0.65."""
    return spec.season_length is not None or not isinstance(axis.offset, offsets.Week)


def _acf(x, lags):
    """Sample autocorrelations of ``x`` at lags 1..``lags`` (the textbook estimator)."""
    d = x - x.mean()
    denom = float(d @ d)
    if denom == 0.0:
        return np.zeros(lags)
    return np.array([float(d[k:] @ d[:-k]) / denom for k in range(1, lags + 1)])


def is_seasonal(values, season) -> bool:
    """The M4 benchmarks' seasonality test: the autocorrelation at lag ``season`` exceeds
    ``1.645 sqrt((1 + 2 sum_{k<season} r_k^2) / n)`` (90 %, one-sided), on at least three
    seasons of finite values."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if season < 2 or len(x) < 3 * season:
        return False
    r = _acf(x, season)
    limit = 1.645 * np.sqrt((1.0 + 2.0 * np.sum(r[:-1] ** 2)) / len(x))
    return bool(abs(r[-1]) > limit)


def positive(values) -> bool:
    """Every finite value above zero (at least one value)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    return bool(len(x)) and bool(np.all(x > 0))


def seasonal_indices(values, season, mult=None):
    """(indices ``(season, n_targets)``, mult) of a classical decomposition of ``values``
    ``(n, n_targets)``, phase ``k`` being the rows ``k, k + season, ...``; None when the
    series cannot be decomposed (fewer than two seasons, or a phase never observed).

    The trend is the centred moving average over one season (a 2 x ``season``
    average for an even season); the indices are the average ratio to it
    (multiplicative, when every value is positive and every ratio finite) or the
    average difference from it (additive), normalised to mean 1 or 0, as in
    the M4 competition's benchmarks.  Missing values are skipped.  ``mult``: only that
    kind (None: multiplicative when it applies, else additive).
    """
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if season < 2 or n < 2 * season:
        return None
    w = np.r_[0.5, np.ones(season - 1), 0.5] / season if season % 2 == 0 else \
        np.ones(season) / season
    off = (len(w) - 1) // 2
    inner = n - len(w) + 1
    trend = np.stack([np.convolve(x[:, j], w, mode="valid") for j in range(x.shape[1])], 1)
    middle = x[off:off + inner]
    phase = np.arange(off, off + inner) % season
    kinds = (True, False) if all(positive(x[:, j]) for j in range(x.shape[1])) else (False,)
    for mult in kinds if mult is None else (mult,):
        with np.errstate(divide="ignore", invalid="ignore"):
            detrended = middle / trend if mult else middle - trend
        detrended[~np.isfinite(detrended)] = np.nan
        seen = np.stack([np.isfinite(detrended[phase == k]).any(axis=0)
                         for k in range(season)])
        if not seen.all():
            return None
        idx = np.stack([np.nanmean(detrended[phase == k], axis=0) for k in range(season)])
        idx = idx / idx.mean(axis=0) if mult else idx - idx.mean(axis=0)
        if np.isfinite(idx).all() and (not mult or (idx > 0).all()):
            return idx, mult
    return None


# when a requested normalisation does not apply to series of a panel: why, and what
# they fall back to (a single series' reason comes from :func:`resolve`)
FALLBACKS = {
    "log_scale": ("have zeros or negative values",
                  "modelled on the original scale (additive window normalisation)"),
    "window_norm": ("cannot be decomposed (fewer than two seasons or an unobserved phase)",
                    "not decomposed (windows relative to the last value)"),
}


def resolve(spec, values, season, exact=True) -> tuple[Scaling, dict]:
    """One series' :class:`Scaling` from its training values ``(n, n_targets)`` (before its
    calibration windows) and, for each parameter whose explicit request does not apply
    to it, why (``{"log_scale": reason, "window_norm": reason}``; :data:`FALLBACKS` says
    what is done instead).

    ``spec`` gives ``log_scale`` and ``window_norm``; ``season`` is the season
    length, ``exact`` whether it repeats in whole steps (see :func:`exact_season`;
    ``"auto"`` decomposes only then).  The decomposition found here is what the network trains and is
    calibrated on; forecasts then use it re-estimated on every fitted value
    (:meth:`~tsrnn._forecast.series.SeriesState.reseasoned`).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    notes = {}
    log = False
    asked = spec.log_scale
    if isinstance(asked, str) or bool(asked):
        log = all(positive(values[:, j]) for j in range(values.shape[1]))
        if not log and not isinstance(asked, str):
            notes["log_scale"] = "it has zeros or negative values"
    norm, found = spec.window_norm, None
    if norm in ("auto", "decompose"):
        if norm == "decompose" or (exact and season > 1 and all(
                is_seasonal(values[:, j], season) for j in range(values.shape[1]))):
            found = seasonal_indices(values, season)
        if found is None and norm == "decompose":
            notes["window_norm"] = (
                f"it has fewer than two seasons of {season} training values or a phase of "
                "the season never observed" if season > 1 else
                "its season length is 1 (set `season_length`)")
        norm = "last"  # windows relative to their last (seasonally adjusted) value
    seasonal, mult = (None, False) if found is None else found
    return Scaling(log, norm, season, seasonal, mult), notes
