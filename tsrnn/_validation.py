"""Parameter and input checks with error texts that name the argument and value."""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import re

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


class NoTrainingSamplesError(ValueError):
    """The data leave no sample to train on once the held-out parts are set aside."""


# The memory any one allocation plan may take: what a fit, a forecast or a load would need
# beyond this is refused up front with a ValueError, instead of a MemoryError (or the
# machine swapping) part-way.  TSRNN_MEMORY_BUDGET sets it ("16GiB", "500MB" or bytes).
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 1024, "m": 1e6, "mb": 1e6, "mib": 1024**2,
          "g": 1e9, "gb": 1e9, "gib": 1024**3, "t": 1e12, "tb": 1e12, "tib": 1024**4}


def memory_budget() -> int:
    """Bytes one allocation plan may take: ``TSRNN_MEMORY_BUDGET`` if set, else three
    quarters of the machine's physical memory (8 GiB where that is unknown)."""
    text = os.environ.get("TSRNN_MEMORY_BUDGET", "").strip()
    if text:
        m = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)", text)
        value = None
        if m is not None and m.group(2).lower() in _UNITS:
            value = float(m.group(1)) * _UNITS[m.group(2).lower()]
        # a finite number of bytes that an int64 holds (400 digits are infinity as a float)
        if value is None or not math.isfinite(value) or value >= 2.0 ** 63:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise ValueError(f"TSRNN_MEMORY_BUDGET={shown!r} must be a size such as "
                             "'16GiB', '500MB' or a number of bytes (below 8 EiB).")
        return int(value)
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") * 3 // 4)
    except (AttributeError, ValueError, OSError):
        return 8 * 1024**3


def format_bytes(n) -> str:
    """``n`` bytes for a message: '1.5 GiB'."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def check_allocation(what, nbytes):
    """Refuse a plan needing more than :func:`memory_budget` bytes.

    ``what`` names the argument (and value) responsible, e.g. "`hidden_size`=20000";
    the message gives the estimate, the budget and how to raise it.
    """
    budget = memory_budget()
    if nbytes > budget:
        raise ValueError(f"{what} would need about {format_bytes(nbytes)} of memory, more than "
                         f"the budget of {format_bytes(budget)} (set TSRNN_MEMORY_BUDGET to "
                         "change it).")
    return int(nbytes)


def check_choice(name, value, options):
    """Return ``value`` if it is one of ``options``, else raise ValueError."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"`{name}`={value!r} must be one of {sorted(options)}.")
    return value


def check_int(name, value, *, low=1, allow_none=False):
    """Return ``value`` as int if it is an integer >= ``low`` (bools refused)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}`={value!r} must be an int >= {low}.")
    if value < low:
        raise ValueError(f"`{name}`={value!r} must be an int >= {low}.")
    return int(value)


def check_float(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as float if it is a finite real within the bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}`={value!r} must be a real number.")
    value = float(value)
    bad = not np.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
        rng = " and ".join(x for x in (lo, hi) if x) or "finite"
        raise ValueError(f"`{name}`={value!r} must be a finite number {rng}.")
    return value


def check_dtype(name, value):
    """Return the NumPy float dtype named by ``value`` (float32 or float64)."""
    try:
        dt = np.dtype(value)
    except TypeError:
        dt = None
    if dt is None or dt.type not in FLOAT_DTYPES:
        raise ValueError(f"`{name}`={value!r} must be numpy.float32 or numpy.float64.")
    return dt.type


def check_n_jobs(value):
    """``None`` or a non-zero int, as in joblib."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value == 0:
        raise ValueError(f"`n_jobs`={value!r} must be None or a non-zero int.")
    return int(value)


def as_float_array(name, value, dtype, *, ndims):
    """Convert to a C-contiguous float array of ``dtype``, checking rank and finiteness.

    Always returns a new array or a read-only-safe view that the caller does
    not write to, so the user's data is never mutated.
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"`{name}` could not be read as a numeric array: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"`{name}` must hold numbers, got dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise TypeError(f"`{name}` must be real, got dtype {arr.dtype}.")
    if arr.ndim not in ndims:
        want = " or ".join(str(d) for d in ndims)
        raise ValueError(f"`{name}` must be {want}-D, got shape {arr.shape}.")
    if arr.size and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"`{name}` must be finite; found {arr[tuple(bad)]!r} at index {tuple(int(b) for b in bad)}."
        )
    return np.ascontiguousarray(arr, dtype=dtype)


def check_quantiles(quantiles):
    """Return ``quantiles`` as a float64 array of levels strictly between 0 and 1."""
    if quantiles is None:
        raise ValueError("`quantiles` must be given for loss='quantile'.")
    qs = np.atleast_1d(np.asarray(quantiles, dtype=np.float64))
    if qs.ndim != 1 or qs.size == 0 or not np.all((qs > 0) & (qs < 1)):
        raise ValueError(f"`quantiles`={quantiles!r} must be a non-empty list of levels strictly "
                         "between 0 and 1.")
    if np.unique(qs).size != qs.size:
        # two heads for one level would be fitted and returned as separate columns
        raise ValueError(f"`quantiles`={quantiles!r} repeats a level; give each level once.")
    return qs


@contextlib.contextmanager
def naming(estimator):
    """Add a note naming ``estimator`` (its non-default parameters) to any error raised
    inside, so that a failed candidate of a search or a worker names itself.  The
    outermost estimator's note replaces an inner one's (a forecaster's network)."""
    try:
        yield
    except Exception as err:
        if hasattr(err, "add_note"):  # Python >= 3.11
            notes = getattr(err, "__notes__", [])
            notes[:] = [n for n in notes if not n.startswith(_NOTE)]
            err.add_note(f"{_NOTE}{estimator!r}")
        raise


_NOTE = "tsrnn: raised while fitting "


def check_random_state(seed):
    """A ``numpy.random.RandomState`` from None, an int or an instance (as scikit-learn's).

    Here so that the engine, which does not import scikit-learn, seeds the
    same way scikit-learn does: None is NumPy's global generator.
    """
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"`random_state`={seed!r} cannot be used to seed a numpy.random.RandomState"
                     " instance.")
