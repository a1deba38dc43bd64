"""Static inputs to the initial state: ``h_0 = tanh(W s + b)`` per sample, learned.

A sample's static inputs ``s`` (a sensor's site, a ticker's sector: constant
over its steps) are mapped by one linear layer and ``tanh`` to the initial state
of every layer of the network (and, for an LSTM, to the initial cell state, the
second half of the layer's outputs), so that the recurrence starts from what is
known about the series before its first observation (one-to-many).  The layer is
the ``init.weight`` ``(S_out, S)`` / ``init.bias`` ``(S_out,)`` block of a
:class:`~tsrnn._engine.network.Network`'s flat vector, ``S_out = L * H`` (twice
that for an LSTM: ``h_0`` of every layer, then ``c_0``).  The network's kernels
take the state and return its gradient; this module does the layer's forward and
backward pass in NumPy (one small GEMM per batch).
"""

from __future__ import annotations

import copy

import numpy as np

from tsrnn._validation import as_float_array


def state_rows(cell, num_layers, hidden_size):
    """Outputs of the layer: ``h_0`` of every layer, and ``c_0`` for an LSTM."""
    return (2 if cell == "lstm" else 1) * num_layers * hidden_size


def split(net, X):
    """``(X_steps, s)``: the recurrent inputs and the static inputs of an ``X`` whose
    last ``static_size`` channels hold the static inputs (read at step 0)."""
    C = net.input_size
    return np.ascontiguousarray(X[:, :, :C]), np.ascontiguousarray(X[:, 0, C:])


def initial_state(net, s, weights):
    """``(h0, c0, a)``: the initial state (L, n, H) of static inputs ``s`` (n, S) and the
    layer's activations ``a`` (n, S_out) for :func:`layer_grad`; ``c0`` None but for an
    LSTM.  ``weights``: the network's named views (``init.weight``, ``init.bias``)."""
    W, b = weights["init.weight"], weights["init.bias"]
    a = np.tanh(s @ W.T + b)
    L, H = net.num_layers, net.hidden_size
    n = len(s)

    def state(part):
        return np.ascontiguousarray(part.reshape(n, L, H).transpose(1, 0, 2))
    h0 = state(a[:, :L * H])
    c0 = state(a[:, L * H:]) if net.cell == "lstm" else None
    return h0, c0, a


def layer_grad(s, a, dh0, dc0):
    """Gradients ``(dW, db)`` of the layer from those of the initial state it made."""
    n = len(s)
    parts = [dh0] if dc0 is None else [dh0, dc0]
    d = np.concatenate([p.transpose(1, 0, 2).reshape(n, -1) for p in parts], axis=1)
    dpre = d * (1 - a * a)
    return dpre.T @ s, dpre.sum(axis=0)


def with_inputs(net, X, static, h0):
    """``X`` (n, T, C) with the static inputs appended as constant channels, the layout
    the kernel calls of a network with ``static_size`` take (so that estimators and the
    training loop carry them as channels); ``X`` itself for a network without."""
    if not net.static_size:
        if static is not None:
            raise ValueError("`static` needs a network with `static_size` > 0 (this "
                             f"one has none: {net!r}).")
        return X
    if static is None:
        raise ValueError(f"`static` must be given: the network maps {net.static_size} "
                         "static inputs per sample to its initial state.")
    if h0 is not None:
        raise ValueError("Give `h0` or `static`, not both: with `static_size` the initial "
                         "state is computed from the static inputs.")
    n, T, _ = X.shape
    s = as_float_array("static", static, net.dtype, ndims=(2,))
    if s.shape != (n, net.static_size):
        raise ValueError(f"`static` must have shape ({n}, {net.static_size}), got "
                         f"{s.shape}.")
    return np.ascontiguousarray(np.concatenate(
        [X, np.broadcast_to(s[:, None, :], (n, T, net.static_size))], axis=2))


def call_state(net, X, state, get, train):
    """For a kernel call of a network with ``static_size``: the recurrent part of ``X``,
    a copy of the call's ``state`` (a ``Batch``) with the initial state made from the
    static channels (and its gradient buffers, from ``get``, when ``train``), and what
    :func:`write_grad` needs; else the arguments as they are and None."""
    if not net.static_size:
        return X, state, None
    if not (state.h0 is None and state.dh0 is None):
        raise ValueError("A network with `static_size` computes its initial state from "
                         "the static inputs; `h0` cannot be given as well.")
    X, s = split(net, X)
    h0, c0, a = initial_state(net, s, net._views(net.params))
    taken = copy.copy(state)  # every other field as given
    taken.h0, taken.c0 = h0, c0
    if train:
        taken.dh0 = get("static_dh0", h0.shape, net.dtype)
        taken.dc0 = None if c0 is None else get("static_dc0", c0.shape, net.dtype)
    return X, taken, (s, a)


def write_grad(net, grad, taken, cache):
    """Write the layer's gradient into the network's flat ``grad``, from the initial
    state's gradient the kernels left in ``taken`` (see :func:`call_state`)."""
    s, a = cache
    dW, db = layer_grad(s, a, taken.dh0, taken.dc0)
    views = net._views(grad)
    views["init.weight"][...] = dW
    views["init.bias"][...] = db
