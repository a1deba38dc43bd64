"""How a series is put into the network's units: log scale, window reference, season.

Each series a forecaster fits gets a :class:`Scaling`, decided once from its
training part (never from the values it is calibrated or tested on):

- ``log``: the targets are forecast on a log scale (positive series only), so
  that every window's level is divided out instead of subtracted and the
  network sees relative changes;
- ``norm``: what each window is expressed relative to.  ``"last"``: its last
  observed value (an output of zero is the naive forecast).  ``"season"``:
  inputs relative to the last value as well, targets relative to the value
  one season before each of them (an output of zero is the seasonal naive
  forecast).  ``None``: absolute values;
- ``season``: the season length (observations per cycle).

``"auto"`` choices follow a documented rule: the log scale for series whose
training values are all positive; the seasonal reference when the series has a
season (``season > 1``), at least three full seasons, windows at least a season
long, and passes the seasonality test of the M4 competition's benchmarks (the
autocorrelation at lag ``season`` above its 90 % limit).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from pandas.tseries import offsets

WINDOW_NORMS = ("last", "season", "auto")  # or None: absolute values


class Scaling(NamedTuple):
    """One series' normalisation: ``log`` scale, window reference ``norm``, ``season``."""

    log: bool = False
    norm: object = "last"
    season: int = 1


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


def resolve(spec, values, season, lags) -> tuple[Scaling, str | None]:
    """One series' :class:`Scaling` from its training values ``(n, n_targets)`` and why a
    requested log scale was not applied (None when it was, or was not asked for).

    ``spec`` gives ``log_scale`` and ``window_norm``; ``season`` is the season
    length and ``lags`` the window length.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    note = None
    log = False
    asked = spec.log_scale
    if isinstance(asked, str) or bool(asked):
        log = all(positive(values[:, j]) for j in range(values.shape[1]))
        if not log and not isinstance(asked, str):
            note = "it has zeros or negative values"
    norm = spec.window_norm
    if norm == "auto":
        scaled = np.log(values) if log else values
        seasonal = season > 1 and lags >= season and all(
            is_seasonal(scaled[:, j], season) for j in range(scaled.shape[1]))
        norm = "season" if seasonal else "last"
    return Scaling(log, norm, season), note
