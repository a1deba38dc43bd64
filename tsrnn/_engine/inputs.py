"""The checks of :class:`~tsrnn._engine.network.Network`'s inputs: windows (fixed or
variable length), targets, weights, dropout masks, embedding rows and initial states.

Each function takes the network (for its layout and dtype) and returns the argument
as the kernels take it, or raises a ``ValueError``/``TypeError`` naming the argument
and the offending value.
"""

from __future__ import annotations

import numpy as np

from tsrnn._engine import sequences
from tsrnn._validation import as_float_array, check_quantiles


def check_X(net, X, lengths=None):
    """Windows as ``(padded (n, T, C), lengths or None, listed)``.

    ``X`` is an array (n, T, C) — (n, T) with one channel — optionally with
    ``lengths``, or a list of sequences (T_i, C) whose lengths it gives
    (``listed`` True).  Steps past a sequence's length are zero in the result.
    """
    if sequences.is_ragged(X):
        if lengths is not None:
            raise ValueError("`lengths` must be None when `X` is a list of sequences (their "
                             "own lengths are used).")
        X3, lens = sequences.pad("X", X, net.dtype, channels=net.input_size)
        return X3, sequences.check_lengths(lens, X3.shape[0], X3.shape[1]), True
    if lengths is None:
        return _fixed(net, as_float_array("X", X, net.dtype, ndims=(2, 3))), None, False
    arr = np.asarray(X)
    if arr.ndim not in (2, 3):
        raise ValueError(f"`X` must be 2-D or 3-D, got shape {arr.shape}.")
    arr = _fixed(net, arr)
    lens = sequences.check_lengths(lengths, arr.shape[0], arr.shape[1])
    if lens is None:
        return as_float_array("X", arr, net.dtype, ndims=(3,)), None, False
    return sequences.blank("X", arr, lens, net.dtype), lens, False


def _fixed(net, X):
    """``X`` (n, T, C) with the channel count checked; (n, T) is one channel."""
    if X.ndim == 2:
        if net.input_size != 1:
            raise ValueError(
                f"`X` is 2-D with shape {X.shape}, which means one channel, but this network "
                f"has input_size={net.input_size}; pass X of shape (n, T, {net.input_size})."
            )
        X = X.reshape(X.shape[0], X.shape[1], 1)
    n, T, C = X.shape
    if n == 0 or T == 0:
        raise ValueError(f"`X` must hold at least one sample and one step, got shape {X.shape}.")
    if C != net.input_size:
        raise ValueError(
            f"`X` has {C} channels (shape {X.shape}) but this network has "
            f"input_size={net.input_size}."
        )
    return X


def check_Y(net, Y, X, loss, seq, n_quantiles, lengths=None):
    """Targets as ``(n, T or 1, K)``; with ``seq`` and ``lengths``, ``Y`` may be a list
    of per-sequence targets or a padded array (anything past each length is ignored)."""
    n, T, _ = X.shape
    if seq and lengths is not None:
        if sequences.is_ragged(Y):
            if len(Y) != n:
                raise ValueError(f"`Y` must give one target sequence per input sequence: "
                                 f"{len(Y)} target sequences for {n} inputs.")
            for i, y in enumerate(Y):
                if np.shape(y)[0] != lengths[i]:
                    raise ValueError(f"`Y` must give one target per step of each sequence: "
                                     f"sequence {i} has {np.shape(y)[0]} targets for "
                                     f"{lengths[i]} steps.")
            Y, _ = sequences.pad("Y", Y, np.float64)
            if Y.shape[1] < T:
                Y = np.concatenate([Y, np.zeros((n, T - Y.shape[1], Y.shape[2]))], axis=1)
            if loss == "cross_entropy" and Y.shape[2] == 1:
                Y = Y[..., 0]
        else:
            arr = np.asarray(Y)
            if arr.shape[:2] != (n, T):
                raise ValueError(f"`Y` must have shape {(n, T)} + (outputs,) (padded like "
                                 f"`X`), got {arr.shape}.")
            Y = sequences.blank("Y", arr.reshape(n, T, -1), lengths, np.float64).reshape(
                arr.shape)
    O = net.output_size
    lead = (n, T) if seq else (n,)
    if O == 0:
        if loss == "cross_entropy":
            raise ValueError("A headless network (output_size=0) has no logits for "
                             "`loss`='cross_entropy'.")
        if Y is not None and np.size(Y):
            raise ValueError(f"A headless network (output_size=0) takes no targets; `Y` has "
                             f"shape {np.shape(Y)} (pass None).")
        return np.zeros((n, T if seq else 1, 0), net.dtype)
    if loss == "cross_entropy":
        Y = np.asarray(Y)
        if Y.shape != lead:
            raise ValueError(f"`Y` must have shape {lead} (class labels), got {Y.shape}.")
        if not (np.issubdtype(Y.dtype, np.integer)
                or (np.issubdtype(Y.dtype, np.floating) and np.all(np.mod(Y, 1) == 0))):
            raise ValueError(f"`Y` must hold integer class labels, got dtype {Y.dtype}.")
        if Y.size and (Y.min() < 0 or Y.max() >= O):
            raise ValueError(
                f"`Y` labels must lie in [0, {O - 1}] (output_size={O}); "
                f"found range [{Y.min()}, {Y.max()}]."
            )
        return np.ascontiguousarray(Y.reshape(n, -1, 1), dtype=net.dtype)
    K = O // n_quantiles
    Y = as_float_array("Y", Y, net.dtype, ndims=(len(lead), len(lead) + 1))
    if Y.ndim == len(lead):
        Y = Y[..., None]
    if Y.shape != lead + (K,):
        raise ValueError(f"`Y` must have shape {lead + (K,)}, got {Y.shape}.")
    return Y.reshape(n, -1, K)


def check_sample_weight(net, sample_weight, n):
    if sample_weight is None:
        return np.ones(n, net.dtype)
    sw = as_float_array("sample_weight", sample_weight, net.dtype, ndims=(1,))
    if sw.shape != (n,):
        raise ValueError(f"`sample_weight` must have shape ({n},), got {sw.shape}.")
    if (sw < 0).any() or sw.sum() <= 0:
        raise ValueError("`sample_weight` must be non-negative with a positive sum.")
    return sw


def check_masks(net, masks, X):
    n, T, _ = X.shape
    if masks is None or net.num_layers == 1:
        if masks is not None and np.size(masks):
            raise ValueError("`dropout_masks` must be None for a single-layer network.")
        return np.empty((0, 0, 0, 0), net.dtype)
    shape = (net.num_layers - 1, n, T, net.hidden_size)
    masks = as_float_array("dropout_masks", masks, net.dtype, ndims=(4,))
    if masks.shape != shape:
        raise ValueError(f"`dropout_masks` must have shape {shape}, got {masks.shape}.")
    return masks


def check_groups(net, groups, n):
    """The embedding rows of ``n`` samples as int64, or an empty array without one."""
    if not net.num_embeddings:
        if groups is not None:
            raise ValueError("`groups` needs a network with an embedding "
                             "(num_embeddings > 0).")
        return np.empty(0, np.int64)
    if groups is None:
        raise ValueError(f"`groups` must give each sample's embedding row (this network "
                         f"has num_embeddings={net.num_embeddings}).")
    g = np.asarray(groups)
    if g.shape != (n,) or not np.issubdtype(g.dtype, np.integer):
        raise ValueError(f"`groups` must be {n} integers, got shape {g.shape} of dtype "
                         f"{g.dtype}.")
    if n and (g.min() < 0 or g.max() >= net.num_embeddings):
        raise ValueError(f"`groups` must lie in [0, {net.num_embeddings - 1}]; found "
                         f"[{g.min()}, {g.max()}].")
    return np.ascontiguousarray(g, dtype=np.int64)


def check_state(net, h0, n, names=("h0", "c0")):
    """The initial state as ``(h0, c0)`` arrays of shape (num_layers, n, hidden_size), or
    ``(None, None)``.  An LSTM takes the pair ``(h0, c0)``, the other cells ``h0`` alone,
    as PyTorch's modules do.  ``names``: the argument's (and its cell part's) name, for a
    state-shaped argument other than ``h0``."""
    if h0 is None:
        return None, None
    shape = (net.num_layers, n, net.hidden_size)
    h_name, c_name = names
    if net.cell == "lstm":
        if not (isinstance(h0, (tuple, list)) and len(h0) == 2):
            raise ValueError(f"`{h_name}` of an LSTM must be the pair ({h_name}, {c_name}), "
                             f"each of shape {shape}, as torch.nn.LSTM takes it; got "
                             f"{type(h0).__name__}.")
        parts = [(h_name, h0[0]), (c_name, h0[1])]
    else:
        parts = [(h_name, h0)]
    out = []
    for name, value in parts:
        arr = as_float_array(name, value, net.dtype, ndims=(3,))
        if arr.shape != shape:
            raise ValueError(f"`{name}` must have shape {shape} (num_layers, n, hidden_size), "
                             f"got {arr.shape}.")
        out.append(arr)
    return out[0], (out[1] if len(out) > 1 else None)


def check_quantiles_for(net, quantiles, loss):
    """The quantile levels of ``loss="quantile"`` in the network's dtype (empty otherwise)."""
    if loss != "quantile":
        return np.empty(0, net.dtype)
    qs = check_quantiles(quantiles)
    if net.output_size % qs.size:
        raise ValueError(
            f"`output_size`={net.output_size} must be a multiple of the number of "
            f"`quantiles` ({qs.size}) for loss='quantile'."
        )
    return qs.astype(net.dtype)
