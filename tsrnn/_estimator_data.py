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
    per = stats_block(A.shape)
    if lengths is None and A.shape[0] > per:
        return _block_stats(A, sw, per)
    A = A if isinstance(A, np.ndarray) else A.block(0, A.shape[0])
    w = w.reshape(-1)
    flat = A.reshape(-1, C).astype(np.float64)
    mean = np.average(flat, axis=0, weights=w)
    std = np.sqrt(np.average((flat - mean) ** 2, axis=0, weights=w))
    return mean, np.where(std > 0, std, 1.0)


# The standardisation statistics of more samples than fill this many values (samples x
# steps x channels) are summed block by block, each block's sums added in order: a
# streamed fit (a window source, never materialised) and the same windows as one array
# read the same blocks, so their statistics are bitwise equal; smaller data are one block.
STATS_VALUES = 1 << 22


def stats_block(shape):
    """Samples per block of :func:`weighted_stats` for data of ``shape`` (n, T, C)."""
    return max(1, STATS_VALUES // max(1, int(np.prod(shape[1:]))))


def _blocks(A, per):
    """``A``'s samples ``per`` at a time, float64: slices of an array, or the blocks of a
    :class:`SourcePart`."""
    for start in range(0, A.shape[0], per):
        stop = min(start + per, A.shape[0])
        block = A[start:stop] if isinstance(A, np.ndarray) else A.block(start, stop)
        yield start, stop, block.reshape(stop - start, -1, A.shape[2]).astype(np.float64)


def _block_stats(A, sw, per):
    """:func:`weighted_stats` without ``lengths`` or ``read``, over blocks of ``per``
    samples (two passes: the mean, then the spread about it)."""
    C, T = A.shape[2], A.shape[1]
    sw = sw.astype(np.float64)
    total, sums = 0.0, np.zeros(C)
    for start, stop, block in _blocks(A, per):
        w = np.repeat(sw[start:stop], T)
        sums += (block.reshape(-1, C) * w[:, None]).sum(axis=0)
        total += float(w.sum())
    mean = sums / total
    sq = np.zeros(C)
    for start, stop, block in _blocks(A, per):
        w = np.repeat(sw[start:stop], T)
        sq += (np.square(block.reshape(-1, C) - mean) * w[:, None]).sum(axis=0)
    std = np.sqrt(sq / total)
    return mean, np.where(std > 0, std, 1.0)


def is_window_source(X):
    """Whether ``X`` is a window source: windows gathered on demand rather than an array.

    A window source has ``window_source = True``, ``shape`` ``(n, T, C)``, ``n_outputs``
    and ``take(idx)`` / ``block(start, stop)`` returning ``(X, y)``: float64 windows
    ``(m, T, C)`` and targets ``(m, n_outputs)`` of the samples ``idx`` (an int array)
    or ``start:stop``; the same sample always gives the same values.
    """
    return getattr(X, "window_source", False) is True


def check_source(X, y, sample_weight, decoder, output):
    """``X`` if it is a window source (see :func:`is_window_source`)
    a fit can stream, else None; what a streamed fit does not take is refused."""
    if not is_window_source(X):
        return None
    unsupported = {"`y`": y is not None, "`sample_weight`": sample_weight is not None,
                   "an encoder-decoder": decoder is not None,
                   f"`output`={output!r}": output != "last"}
    refused = [what for what, given in unsupported.items() if given]
    if refused:
        raise ValueError(f"A window source streams its own targets to one network with "
                         f"output='last'; it cannot be fitted with {', '.join(refused)}.")
    if X.shape[0] < 1:
        raise ValueError("The window source holds no windows.")
    return X


class SourcePart:
    """The windows (``part=0``) or targets (``part=1``, as ``(n, 1, outputs)``) of a
    window source's samples ``start:stop``, read by :func:`weighted_stats` block by
    block."""

    def __init__(self, source, part, start, stop):
        self.source, self.part, self.start = source, part, start
        n = stop - start
        self.shape = (n,) + (source.shape[1:] if part == 0 else (1, source.n_outputs))

    def block(self, start, stop):
        # the targets are read with their windows: a block of the windows' size at a time
        per = stats_block(self.source.shape)
        start, stop = self.start + start, self.start + stop
        values = [self.source.block(s, min(s + per, stop))[self.part]
                  for s in range(start, stop, per)] or [self.source.block(start, stop)[self.part]]
        return np.concatenate(values).reshape((stop - start,) + self.shape[1:])


def source_magnitude(source, per=None):
    """:func:`check_magnitude` of a window source's targets and windows, block by block."""
    per = per or stats_block(source.shape)
    for start in range(0, source.shape[0], per):
        X, y = source.block(start, min(start + per, source.shape[0]))
        check_magnitude("y", y)
        check_magnitude("y or X", X)


class ScaledWindows:
    """A window source's samples ``start:stop`` as the trainer reads them: standardised by
    the estimator's fitted scaler (``scale_X``, ``scale_y``, the same functions that scale
    an array) in ``dtype``, gathered a minibatch at a time, so the fit never holds more
    than a minibatch of windows; ``shape`` ``(n, T, C)`` and :meth:`take`, as the trainer
    expects of a source."""

    def __init__(self, source, scale_X, scale_y, dtype, start=0, stop=None):
        self.source, self.scale_X, self.scale_y, self.dtype = source, scale_X, scale_y, dtype
        self.start = start
        stop = source.shape[0] if stop is None else stop
        self.shape = (stop - start,) + tuple(source.shape[1:])

    def take(self, idx):
        """Scaled ``(X, Y)`` of the samples ``idx`` (positions in this part), ``Y`` as
        ``(m, 1, outputs)``."""
        X, y = self.source.take(np.asarray(idx, dtype=np.int64) + self.start)
        Y = y.reshape(len(y), 1, -1).astype(np.result_type(y.dtype, np.float32))
        return self.scale_X(X, self.dtype), self.scale_y(Y, self.dtype)


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
