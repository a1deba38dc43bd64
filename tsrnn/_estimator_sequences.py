"""How the estimators read sequences of different lengths and targets at every step.

Sequences come as a list of ``(T_i, C)`` arrays (``(T_i,)`` for one channel) or
as a 3-D array padded at the end with all-NaN steps (sktime's and aeon's
convention for unequal lengths).  Either becomes a zero-padded ``(n, T, C)``
float64 array and each sequence's length; the network runs each to its own
length (:mod:`tsrnn._engine.sequences`).

NumPy only; below :mod:`tsrnn.estimators`.
"""

from __future__ import annotations

import numpy as np

from tsrnn._engine import sequences
from tsrnn._engine.sequences import step_mask
from tsrnn._validation import as_float_array


def is_sequences(X):
    """Whether ``X`` is a list of sequences or a 3-D array with NaN padding at the end
    (anything else is read as fixed-length windows)."""
    if sequences.is_ragged(X):
        return True
    if isinstance(X, np.ndarray) and X.ndim == 3 and X.dtype.kind == "f" and X.size:
        return bool(np.isnan(X[:, -1]).all(axis=-1).any())
    return False


def read_X(X, channels=None):
    """Sequences as ``(padded (n, T, C) float64, lengths int64 (n,))``.

    ``channels``: the channel count every sequence must have (a fitted
    estimator's).  Steps past a length are zero.  NaN anywhere but in whole
    trailing steps is refused, naming the sequence and step.
    """
    if sequences.is_ragged(X):
        return sequences.pad("X", X, np.float64, channels=channels)
    arr = np.asarray(X)
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"`X` must hold numbers, got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    n, T, C = arr.shape
    if channels is not None and C != channels:
        raise ValueError(f"`X` has {C} channels (shape {arr.shape}) but the estimator was "
                         f"fitted on {channels}.")
    empty_step = np.isnan(arr).all(axis=2)  # (n, T)
    # a sequence's length: the steps up to its last step that is not all NaN
    filled = ~empty_step
    lengths = np.where(filled.any(axis=1), T - np.argmax(filled[:, ::-1], axis=1), 0)
    if (lengths == 0).any():
        i = int(np.argmax(lengths == 0))
        raise ValueError(f"`X[{i}]` is all NaN: an empty sequence; every sequence needs at "
                         "least one step.")
    real = step_mask(lengths, T)
    bad = real[..., None] & ~np.isfinite(arr)
    if bad.any():
        i, t, c = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"`X[{i}]` has {float(arr[i, t, c])!r} at step {t}, channel {c}: "
                         "only whole steps at the end of a sequence may be NaN (padding).")
    arr[~real] = 0
    return np.ascontiguousarray(arr), lengths.astype(np.int64)


def read_step_targets(y, lengths, n, T):
    """Per-step targets as an (n, T, ...) array and whether they came as a list.

    ``y`` is a list of per-sequence targets (``(T_i,)`` or ``(T_i, K)``) or an
    array ``(n, T[, K])``; entries past a sequence's length are ignored (and
    set to zero; labels keep their dtype and are filled with the first real
    label)."""
    listed = sequences.is_ragged(y)
    if listed:
        if len(y) != n:
            raise ValueError(f"`y` must give one target sequence per sequence of `X`: "
                             f"{len(y)} target sequences for {n}.")
        parts = [np.asarray(v) for v in y]
        for i, v in enumerate(parts):
            if v.ndim not in (1, 2) or v.shape[0] != lengths[i]:
                raise ValueError(f"`y[{i}]` has shape {v.shape}; sequence {i} of `X` has "
                                 f"{lengths[i]} steps, so it needs {lengths[i]} targets.")
        if len({v.shape[1:] for v in parts}) > 1:
            raise ValueError("`y` sequences must all have the same number of outputs per "
                             f"step; found {sorted({v.shape[1:] for v in parts})}.")
        out = np.empty((n, T) + parts[0].shape[1:], np.result_type(*parts))
        out[...] = parts[0].reshape(-1)[0] if parts[0].size else 0
        for i, v in enumerate(parts):
            out[i, :lengths[i]] = v
        return out, True
    arr = np.asarray(y)
    if arr.ndim not in (2, 3) or arr.shape[:2] != (n, T):
        raise ValueError(f"`y` must have shape ({n}, {T}) or ({n}, {T}, n_outputs) — one "
                         f"target per step of `X` — or be a list of per-sequence targets; "
                         f"got shape {arr.shape}.")
    arr = arr.copy()
    past = ~step_mask(lengths, T)
    if past.any():
        arr[past] = arr[~past][0] if arr.dtype.kind in "OUSb" else 0
    return arr, False


def check_step_targets(y):
    """Numeric per-step targets as float64 (after :func:`read_step_targets`)."""
    return as_float_array("y", y, np.float64, ndims=(2, 3))
