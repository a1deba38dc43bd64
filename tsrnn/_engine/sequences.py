"""Variable-length batches and carried state: what the kernels take besides the windows.

A batch of sequences of different lengths is a zero-padded ``(n, T, C)`` array
plus each sequence's length; the kernels run each chunk of the batch only to
its longest sequence, hold a finished sequence's state unchanged to the end
(so the final state, and a many-to-one head, read its own last real step) and
give its padded steps neither loss nor gradient (see
:mod:`tsrnn._engine.kernels.drivers`).  Initial states ``h0`` (and the LSTM's
``c0``) enter as PyTorch lays them out, ``(num_layers, n, hidden_size)``.

Below :mod:`tsrnn._engine.network`; no pandas, no scikit-learn.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from tsrnn._validation import as_float_array, check_allocation

__all__ = ["Batch", "blank", "bucket_order", "check_lengths", "is_ragged", "mask_padding",
           "no_state", "pad", "step_mask", "truncation", "unpad"]


def is_ragged(X):
    """Whether ``X`` is given as a sequence of separate arrays (a list or tuple of
    sequences, each ``(T_i, C)`` or ``(T_i,)``) rather than one array.

    A list of 1-D rows of one length is the array-like of a 2-D array (rows
    of univariate windows, scikit-learn's reading), not a list of sequences.
    """
    if isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1:
        X = list(X)  # numpy's container of sequences of different lengths
    if isinstance(X, np.ndarray) or not isinstance(X, Sequence) or isinstance(X, (str, bytes)):
        return False
    ranks = [np.ndim(x) for x in X]
    if not X or any(r not in (1, 2) for r in ranks):
        return False
    return 2 in ranks or len({len(x) for x in X}) > 1


def pad(name, seqs, dtype, channels=None):
    """Stack a list of sequences into a zero-padded ``(n, T_max, C)`` array.

    Parameters
    ----------
    name : str
        The argument's name for error messages.
    seqs : list of array-like of shape (T_i, C) or (T_i,)
        A 1-D sequence is one channel.
    dtype : numpy dtype
    channels : int, optional
        The channel count every sequence must have (default: the first's).

    Returns
    -------
    padded : ndarray of shape (n, T_max, C)
    lengths : ndarray of int64 of shape (n,)
    """
    arrays = []
    for i, s in enumerate(seqs):
        a = as_float_array(f"{name}[{i}]", s, np.float64, ndims=(1, 2))
        if a.ndim == 1:
            a = a[:, None]
        if a.shape[0] == 0:
            raise ValueError(f"`{name}[{i}]` is an empty sequence (shape {a.shape}); every "
                             "sequence needs at least one step.")
        want = arrays[0].shape[1] if channels is None and arrays else channels
        if want is not None and a.shape[1] != want:
            first = "sequence 0" if channels is None else "the model"
            raise ValueError(f"`{name}[{i}]` has {a.shape[1]} channels (shape {a.shape}) but "
                             f"{first} has {want}; every sequence needs the same channels.")
        arrays.append(a)
    if not arrays:
        raise ValueError(f"`{name}` is an empty list; pass at least one sequence.")
    lengths = np.array([a.shape[0] for a in arrays], np.int64)
    n, T, C = len(arrays), int(lengths.max()), arrays[0].shape[1]
    check_allocation(f"`{name}` padded to its longest sequence ({n} sequences of up to {T} "
                     f"steps and {C} channels)", n * T * C * np.dtype(dtype).itemsize)
    out = np.zeros((n, T, C), dtype)
    for i, a in enumerate(arrays):
        out[i, :a.shape[0]] = a
    return out, lengths


def check_lengths(lengths, n, T):
    """``lengths`` of a padded batch as int64 in [1, T], or None when every sequence runs
    the full ``T`` steps (the kernels' fixed-length path)."""
    if lengths is None:
        return None
    arr = np.asarray(lengths)
    if arr.shape != (n,) or not (np.issubdtype(arr.dtype, np.integer)
                                 or (np.issubdtype(arr.dtype, np.floating)
                                     and np.all(np.mod(arr, 1) == 0))):
        raise ValueError(f"`lengths` must be {n} integers (one per sequence), got shape "
                         f"{arr.shape} of dtype {arr.dtype}.")
    if n and (arr.min() < 1 or arr.max() > T):
        i = int(np.argmax((arr < 1) | (arr > T)))
        raise ValueError(f"`lengths` must lie in [1, {T}] (the padded length); sequence {i} "
                         f"has length {arr[i]}.")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    return None if (arr == T).all() else arr


def blank(name, X, lengths, dtype):
    """``X`` as a C-contiguous ``dtype`` array with every step past a sequence's length set
    to zero (padding may hold anything, NaN included) and every real step checked finite."""
    arr = np.asarray(X)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"`{name}` must hold numbers, got dtype {arr.dtype}.")
    out = np.array(arr, dtype=dtype, order="C", copy=True)
    out[~step_mask(lengths, out.shape[1])] = 0
    if not np.isfinite(out).all():
        bad = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(f"`{name}` must be finite within each sequence's length; found "
                         f"{out[tuple(bad)]!r} at index {tuple(int(b) for b in bad)}.")
    return out


def step_mask(lengths, T):
    """(n, T) True on each sequence's real steps (the first ``lengths[i]``)."""
    return np.arange(T)[None, :] < lengths[:, None]


def unpad(out, lengths):
    """Per-sequence outputs ``[out[i, :lengths[i]] ...]`` of a padded many-to-many result
    (``lengths`` None: every sequence has all ``out.shape[1]`` steps)."""
    if lengths is None:
        return [row.copy() for row in out]
    return [out[i, :int(k)].copy() for i, k in enumerate(lengths)]


def mask_padding(out, lengths, fill=np.nan):
    """``out`` (n, T, ...) with ``fill`` past each sequence's length, in place."""
    if lengths is not None:
        out[~step_mask(lengths, out.shape[1])] = fill
    return out


@functools.lru_cache(maxsize=None)
def no_state(dtype):
    """The kernels' state arguments for none: no lengths, no initial state, no final state,
    no state gradient, no step weights (one compiled kernel for every use)."""
    e3 = np.empty((0, 0, 0), dtype)
    return (np.empty(0, np.int64), e3, e3, e3, e3, e3, e3, np.empty((0, 0), dtype), e3, e3)


def bucket_order(lengths):
    """The order that sorts a variable-length batch by length (stable), or None when there
    are no lengths or they are sorted already.

    The kernels run each chunk of samples to its longest sequence, so chunks
    of similar lengths waste the least: on 256 sequences of 7-29 steps (an LSTM
    of 32 units, float32) sorting made the forward pass 1.3x and the gradient
    1.4x faster than chunks of random lengths (``benchmarks/bench_sequences.py``,
    ``benchmarks/RESULTS.md``).
    """
    if lengths is None or (np.diff(lengths) >= 0).all():
        return None
    return np.argsort(lengths, kind="stable")


def truncation(bptt_steps, T):
    """The kernels' ``trunc`` for ``bptt_steps`` (None: none) over ``T`` steps: a value
    above T means no truncation, so that even the state entering step 0 (an initial
    state) gets its gradient."""
    return T + 1 if bptt_steps is None or bptt_steps > T else int(bptt_steps)


class Batch:
    """The state arguments of one kernel call, in the drivers' order.

    Attributes
    ----------
    lengths : ndarray of int64 (n,) or None
    h0, c0 : ndarray (L, n, H) or None
        The state before the first step (``c0``: LSTM only).
    hN, cN : ndarray (L, n, H) or None
        Filled with the state after each sequence's last step.
    dh0, dc0 : ndarray (L, n, H) or None
        Filled with the loss gradient of ``h0`` / ``c0``.
    step_weight : ndarray (n, T) or None
        Per-step loss weights (many-to-many), times the sample weights.
    hN_grad, cN_grad : ndarray (L, n, H) or None
        A gradient reaching the final state from outside (a decoder's gradient of
        its initial state), added to the loss's own (fixed-length batches only).
    """

    __slots__ = ("lengths", "h0", "c0", "hN", "cN", "dh0", "dc0", "step_weight", "hN_grad",
                 "cN_grad")

    def __init__(self, lengths=None, h0=None, c0=None, hN=None, cN=None, dh0=None, dc0=None,
                 step_weight=None, hN_grad=None, cN_grad=None):
        self.lengths, self.h0, self.c0 = lengths, h0, c0
        self.hN, self.cN, self.dh0, self.dc0 = hN, cN, dh0, dc0
        self.step_weight = step_weight
        self.hN_grad, self.cN_grad = hN_grad, cN_grad

    def args(self, dtype):
        """The ten kernel arguments, empty arrays standing for None."""
        empty = no_state(dtype)
        values = (self.lengths, self.h0, self.c0, self.hN, self.cN, self.dh0, self.dc0,
                  self.step_weight, self.hN_grad, self.cN_grad)
        return tuple(e if v is None else v for v, e in zip(values, empty))

    def take(self, idx):
        """The same batch with its samples in the order ``idx``: inputs gathered, outputs
        fresh arrays of the outputs' shapes (see :meth:`put`)."""
        def rows(a, axis):
            return None if a is None else np.ascontiguousarray(np.take(a, idx, axis=axis))

        def like(a):
            return None if a is None else np.empty_like(a)
        return Batch(rows(self.lengths, 0), rows(self.h0, 1), rows(self.c0, 1),
                     like(self.hN), like(self.cN), like(self.dh0), like(self.dc0),
                     rows(self.step_weight, 0), rows(self.hN_grad, 1), rows(self.cN_grad, 1))

    def put(self, taken, idx):
        """Scatter the outputs of ``taken = self.take(idx)`` back into this batch's."""
        for name in ("hN", "cN", "dh0", "dc0"):
            mine = getattr(self, name)
            if mine is not None:
                mine[:, idx] = getattr(taken, name)

    def step_factor(self, T):
        """(n, T) float64 factor of each step's loss weight: the step weights times 1 on
        real steps and 0 on padding; None when every step counts fully."""
        if self.step_weight is None and self.lengths is None:
            return None
        f = np.ones((len(self.lengths), T)) if self.step_weight is None \
            else self.step_weight.astype(np.float64)
        return f if self.lengths is None else f * step_mask(self.lengths, T)

    @property
    def empty(self):
        return all(getattr(self, k) is None for k in self.__slots__)


NO_BATCH = Batch()
