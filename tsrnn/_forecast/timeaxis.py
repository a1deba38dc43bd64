"""Frequencies and future timestamps of a series' index (pandas layer, no numerics)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BusinessDay, CustomBusinessDay, DateOffset, Tick

from tsrnn._validation import check_allocation

_CALENDARS = (BusinessDay, CustomBusinessDay)

# A regular grid more than this many times longer than the observations (over 99 % of
# it missing) is refused: one stray timestamp decades away does that, and a forward-
# filled grid that sparse has nothing left to learn from.  Real gaps (outages, a
# sensor's pauses, intermittent records) stay far below it.
MAX_GRID_RATIO = 100


def _stray(n_obs, n_grid, gap, left):
    """Whether one gap of ``gap`` missing rows, after the first ``left`` observations,
    looks like a stray timestamp (or two) rather than an outage: it is most of the grid
    and three times longer than all the observations, at most 2 observations (or 1 % of
    them) lie on one side of it, and ten times as many on the other.  An outage has data
    on both sides.  A stray timestamp decades away at a fine frequency is caught by
    ``MAX_GRID_RATIO`` anyway; this catches it at coarse ones (months, weeks)."""
    few, many = sorted((left, n_obs - left))
    return few <= max(2, n_obs // 100) and many >= 10 * few and \
        gap > max(n_grid / 2, 3 * n_obs)


@dataclass(frozen=True)
class TimeAxis:
    """How a fitted series steps through time.

    ``offset`` is a pandas ``DateOffset`` for a DatetimeIndex or an int step
    for an integer index. ``calendar`` offsets (business days) count only the
    observed sessions, so their gaps (holidays) are never filled.
    """

    offset: DateOffset | int
    calendar: bool
    name: object

    def future(self, last, horizon: int) -> pd.Index:
        """The ``horizon`` labels after ``last``."""
        if isinstance(self.offset, int):
            step = self.offset
            return pd.RangeIndex(last + step, last + step * (horizon + 1), step, name=self.name)
        stamps, cur = [], last
        for _ in range(horizon):
            cur = cur + self.offset
            stamps.append(cur)
        idx = pd.DatetimeIndex(stamps, name=self.name)
        try:
            return pd.DatetimeIndex(idx, freq=self.offset)
        except ValueError:  # e.g. an anchored offset that `last` was not on
            return idx

    def steps(self, first, last) -> int:
        """How many steps of the axis lead from the label ``first`` to ``last`` (negative
        when ``last`` is earlier).  A calendar offset counts the sessions it knows of
        (its own holidays), not the ones a series happened to observe."""
        if isinstance(self.offset, int):
            return (int(last) - int(first)) // self.offset
        first, last = pd.Timestamp(first), pd.Timestamp(last)
        sign = 1
        if last < first:
            first, last, sign = last, first, -1
        if isinstance(self.offset, Tick):
            return sign * int(round((last - first) / pd.Timedelta(self.offset)))
        return sign * (len(pd.date_range(first, last, freq=self.offset)) - 1)

    def check_room(self, last, horizon: int, what: str) -> None:
        """Refuse a series whose ``horizon`` future labels after ``last`` cannot be
        represented (an integer index near int64's end, timestamps near pandas' last)."""
        if isinstance(self.offset, int):
            top = np.iinfo(np.int64).max
            if int(last) + self.offset * horizon > top:
                raise ValueError(
                    f"`{what}` index ends at {last}; its `horizon`={horizon} forecast steps "
                    f"of {self.offset} would pass int64's largest value {top}. Shift the "
                    "labels (e.g. subtract the first).")
            return
        try:
            last + self.offset * horizon
        except (OverflowError, ValueError):  # pandas' OutOfBoundsDatetime is a ValueError
            raise ValueError(
                f"`{what}` index ends at {last}; its `horizon`={horizon} forecast steps of "
                f"{_fmt(self.offset)} would pass the last timestamp pandas can represent "
                f"({pd.Timestamp.max}).") from None

    def grid_length(self, first, last) -> int:
        """Rows of the regular grid from ``first`` to ``last``, without building it
        (estimated from 256 steps for offsets of varying length, such as months)."""
        if isinstance(self.offset, int):
            return (int(last) - int(first)) // self.offset + 1
        first, last = pd.Timestamp(first), pd.Timestamp(last)
        if isinstance(self.offset, Tick):
            return int((last - first) // pd.Timedelta(self.offset)) + 1
        try:
            sample = pd.date_range(first, periods=257, freq=self.offset)
        except (OverflowError, ValueError):  # 256 steps pass pandas' last timestamp
            return len(pd.date_range(first, last, freq=self.offset))
        return int((last - first) / (sample[-1] - sample[0]) * 256) + 1

    def check_grid(self, index: pd.Index, n_columns: int, what: str) -> None:
        """Refuse, before it is built, a regular grid that is mostly one gap (a stray
        timestamp) or larger than the memory budget, pointing at the largest gap."""
        n_obs = len(index)
        n_grid = self.grid_length(index[0], index[-1])
        values = index.asi8 if isinstance(index, pd.DatetimeIndex) else index.to_numpy()
        at = int(np.argmax(np.diff(values)))
        a, b = index[at], index[at + 1]
        steps = self.grid_length(a, b) - 1
        gap = (f"the largest gap is {steps:,} steps, between {a} and {b} (positions {at} and "
               f"{at + 1}, with {at + 1:,} observations before it and {n_obs - at - 1:,} "
               "after)")
        grid = (f"`{what}` has {n_obs:,} observations from {index[0]} to {index[-1]}; its "
                f"regular grid at frequency {_fmt(self.offset)} would have {n_grid:,} rows")
        if n_grid > MAX_GRID_RATIO * n_obs or _stray(n_obs, n_grid, steps - 1, at + 1):
            raise ValueError(
                f"{grid}, {_percent(1 - n_obs / n_grid)} of them missing, and {gap}: most "
                "likely a stray timestamp. Drop or correct it, or resample the data (or pass "
                "`freq=`) to a coarser frequency.")
        if n_grid == n_obs:
            return  # no row added: nothing beyond the data's own size
        # the grid's index, the reindexed and the filled frame, their arrays and masks
        nbytes = n_grid * (8 + 40 * n_columns)
        try:
            check_allocation(f"{grid} x {n_columns} column{'s' * (n_columns != 1)}, which",
                             nbytes)
        except ValueError as err:
            raise ValueError(f"{err} In `{what}`, {gap}.") from None

    def regularise(self, frame: pd.DataFrame, what: str) -> pd.DataFrame:
        """Reindex onto the full grid so that a gap becomes missing rows, not a bridged step.

        Calendar offsets keep the observed sessions as they are.  A grid that is mostly
        missing or beyond the memory budget is refused first (:meth:`check_grid`).
        """
        index = frame.index
        if self.calendar or len(index) < 2:
            return frame
        self.check_grid(index, frame.shape[1], what)
        if isinstance(self.offset, int):
            grid = pd.RangeIndex(index[0], index[-1] + 1, self.offset, name=index.name)
        else:
            grid = pd.date_range(index[0], index[-1], freq=self.offset, name=index.name)
        off = index.difference(grid)
        if len(off):
            raise ValueError(
                f"`{what}` has {len(off)} index labels off its frequency {_fmt(self.offset)} "
                f"(first: {off[0]}); pass `freq=` or resample the data."
            )
        return frame if len(grid) == len(index) else frame.reindex(grid)


def _percent(share) -> str:
    return "over 99.99 %" if share > 0.9999 else f"{100 * share:.2f} %"


def _fmt(offset) -> str:
    return f"step {offset}" if isinstance(offset, int) else repr(offset.freqstr)


def _looks_like_trading_days(index: pd.DatetimeIndex) -> bool:
    """Weekday-only sessions, one per day, mostly one calendar day apart."""
    if len(index) < 3 or (index.day_of_week >= 5).any():
        return False
    if len(set(index.time)) != 1:
        return False
    days = np.diff(_wall_ns(index.normalize())) // 86_400_000_000_000
    return bool(np.median(days) == 1)  # longer gaps (outages) stay gaps, not weekends


def _infer_freq(index: pd.DatetimeIndex):
    """``pd.infer_freq`` as an offset (or None), without pandas' deprecation chatter."""
    try:
        with pd.option_context("future.infer_freq_returns_offset", True):
            freq = pd.infer_freq(index)
    except (KeyError, pd.errors.OptionError):  # pandas without that option returns a string
        freq = pd.infer_freq(index)
    return None if freq is None else to_offset(freq)


def _wall_ns(index: pd.DatetimeIndex) -> np.ndarray:
    """Wall-clock nanoseconds: a day is a day across DST changes, whatever the unit."""
    if index.tz is not None:
        index = index.tz_localize(None)
    return index.as_unit("ns").asi8


def _anchored(index: pd.DatetimeIndex):
    """A frequency that short runs of the index imply and the whole index sits on (with gaps).

    Catches calendar frequencies (month starts, W-SAT, days across DST) that
    a fixed step cannot express.
    """
    starts = np.unique(np.linspace(0, len(index) - 3, num=min(25, len(index) - 2)).astype(int))
    seen = set()
    for i in starts:
        freq = _infer_freq(index[i:i + 3])
        if freq is None or freq.freqstr in seen:
            continue
        seen.add(freq.freqstr)
        # a grid that check_grid would refuse is not built here either (a stray timestamp
        # decades after minute data would make it billions of rows)
        if TimeAxis(freq, False, None).grid_length(index[0], index[-1]) > \
                MAX_GRID_RATIO * len(index):
            continue
        if index.isin(pd.date_range(index[0], index[-1], freq=freq)).all():
            return freq
    return None


def check_index_kind(index: pd.Index, what: str) -> None:
    """Only time stamps and integer positions have a "next" label; integer labels must
    fit int64 (the grid and the future labels are int64)."""
    if not (isinstance(index, pd.DatetimeIndex) or pd.api.types.is_integer_dtype(index.dtype)):
        raise TypeError(f"`{what}` must have a DatetimeIndex or an integer (e.g. Range) index, "
                        f"got {type(index).__name__} of dtype {index.dtype}.")
    top = np.iinfo(np.int64).max
    if index.dtype.kind == "u" and len(index) and index.max() > top:
        big = np.flatnonzero(index.to_numpy() > top)
        raise ValueError(f"`{what}` has {index.dtype} index labels beyond int64's largest value "
                         f"{top} ({len(big)} labels, e.g. {index[big[0]]} at position "
                         f"{big[0]}); shift the labels (e.g. subtract the first).")


def resolve_axis(index: pd.Index, freq, what: str) -> TimeAxis:
    """The :class:`TimeAxis` of ``index``, from ``freq`` or inferred.

    DatetimeIndex: ``freq`` if given, else the index's own ``freq``, else
    ``pd.infer_freq``, else business days for trading-day data, else the most
    common step when every step is a multiple of it (a regular index with
    gaps). Integer index: the step (``freq`` may give it).
    """
    check_index_kind(index, what)
    if isinstance(index, pd.DatetimeIndex):
        if freq is not None:
            try:
                offset = to_offset(freq)
            except (ValueError, TypeError):
                raise ValueError(f"`freq`={freq!r} is not a pandas frequency or DateOffset.") from None
            if getattr(offset, "n", 1) < 1:
                raise ValueError(f"`freq`={freq!r} must be a positive step (a zero or negative "
                                 "offset never advances).")
        elif index.freq is not None:
            offset = index.freq
        else:
            inferred = _infer_freq(index) if len(index) >= 3 else None
            if inferred is not None:
                offset = inferred
            elif _looks_like_trading_days(index):
                offset = BusinessDay()
            elif len(index) >= 3 and (anchored := _anchored(index)) is not None:
                offset = anchored
            else:
                offset = _common_tick(index, what)
        return TimeAxis(offset, isinstance(offset, _CALENDARS), index.name)
    if freq is not None:
        if isinstance(freq, (bool, np.bool_)) or not isinstance(freq, numbers.Integral) \
                or freq < 1:
            raise ValueError(f"`freq`={freq!r} must be a positive int step for an integer "
                             "index.")
        step = int(freq)
    elif isinstance(index, pd.RangeIndex):
        step = index.step
    else:
        diffs = np.diff(index.to_numpy())
        step = int(diffs.min()) if len(diffs) else 1
        if len(diffs) and np.any(diffs % step):
            raise ValueError(f"`{what}` has an integer index with uneven steps "
                             f"{sorted({int(d) for d in diffs})[:5]}; pass `freq=` (the step).")
    return TimeAxis(step, False, index.name)


def _common_tick(index: pd.DatetimeIndex, what: str) -> DateOffset:
    if len(index) < 2:
        raise ValueError(f"`{what}` has too few timestamps to infer a frequency; pass `freq=`.")
    diffs = np.diff(_wall_ns(index))
    values, counts = np.unique(diffs, return_counts=True)
    tick = int(values[np.argmax(counts)])
    if tick <= 0 or np.any(diffs % tick):
        if tick > 0:  # a stray timestamp off the step is named as one, not as irregular
            TimeAxis(to_offset(pd.Timedelta(tick)), False, None).check_grid(index, 1, what)
        off = np.flatnonzero(diffs % tick) if tick > 0 else np.arange(len(diffs))
        raise ValueError(
            f"`{what}` has an irregular DatetimeIndex ({index[0]} .. {index[-1]}, steps such as "
            f"{[str(pd.Timedelta(int(d))) for d in values[:3]]}; {len(off)} steps are not a "
            f"multiple of the most common one, {pd.Timedelta(max(tick, 0))}, e.g. {index[off[0]]} "
            f"to {index[off[0] + 1]} at positions {off[0]} and {off[0] + 1}); pass `freq=` (a "
            "pandas frequency or a calendar such as CustomBusinessDay)."
        )
    day = 86_400_000_000_000
    return to_offset(f"{tick // day}D") if tick % day == 0 else to_offset(pd.Timedelta(tick))
