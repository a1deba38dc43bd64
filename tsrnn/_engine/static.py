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

import numpy as np


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
