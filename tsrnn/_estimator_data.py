"""How the estimators read their data: weighted standardisation statistics, and the checks of magnitude and of the cast to the network's
dtype (data are standardised in float64 first).

NumPy only; below :mod:`tsrnn.estimators`, which knows scikit-learn.
"""

from __future__ import annotations

import numpy as np

from tsrnn._engine.sequences import step_mask


def weighted_stats(A, sw, scale, lengths=None, read=None):
    """Per-channel (last axis) mean and std of (n, T, C) data with sample weights.

    Weighted, so that weight k means the same as k repeated samples; a
    constant channel gets std 1.  With ``lengths`` (variable-length
    sequences) only each sequence's real steps count; with ``read`` ((T, C)
    bool, an encoder-decoder's packed windows) only the entries it marks.
    Without ``scale``: mean 0, std 1.
    """
    C = A.shape[2]
    if not scale:
        return np.zeros(C), np.ones(C)
    w = np.broadcast_to(sw.astype(np.float64)[:, None], A.shape[:2])
    if lengths is not None:
        w = w * step_mask(lengths, A.shape[1])
    if read is not None:
        # weights per sample and step times the (T, C) mask, never built as (n, T, C)
        rf = read.astype(np.float64)
        total = np.einsum("nt,tc->c", w, rf)
        mean = np.einsum("nt,tc,ntc->c", w, rf, A, optimize=True) / total
        var = np.einsum("nt,tc,ntc->c", w, rf, np.square(A - mean), optimize=True) / total
        std = np.sqrt(var)
        return mean, np.where(std > 0, std, 1.0)
    w = w.reshape(-1)
    flat = A.reshape(-1, C).astype(np.float64)
    mean = np.average(flat, axis=0, weights=w)
    std = np.sqrt(np.average((flat - mean) ** 2, axis=0, weights=w))
    return mean, np.where(std > 0, std, 1.0)


# Beyond this magnitude the float64 statistics of standardising (squares, sums) overflow.
MAX_MAGNITUDE = 1e150


def check_magnitude(name, A):
    """Refuse data whose standardisation would overflow float64 (NaN predictions)."""
    if A.size:
        big = float(np.nanmax(np.abs(A)))  # a forecaster's windows may hold gaps
        if big > MAX_MAGNITUDE:
            raise ValueError(f"`{name}` holds values up to {big:.3g}; beyond "
                             f"{MAX_MAGNITUDE:.0e} their squares overflow float64 while "
                             "standardising. Rescale the data.")


def cast_finite(name, A, dtype):
    """``A`` in ``dtype``, refusing values that overflow it (a NaN prediction otherwise)."""
    with np.errstate(over="ignore"):  # reported below, as an error naming the argument
        out = np.ascontiguousarray(A, dtype=dtype)
    if out.dtype != A.dtype and not np.isfinite(out).all():
        big = float(np.max(np.abs(A)))
        raise ValueError(
            f"`{name}` holds values too large for {np.dtype(dtype).name} after scaling (up to "
            f"{big:.3g}; {np.dtype(dtype).name} ends at {float(np.finfo(dtype).max):.3g}). Use "
            "`dtype=numpy.float64` or rescale the data.")
    return out
