"""Elman RNN layer.

Forward, for each step t (``act`` is tanh, or relu when ``relu``)::

    p_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        gates[t]   (m, H)
    h_t = act(p_t)                                     hs[t + 1]

Backward, with ``dh_t`` the total gradient of ``h_t`` (from above and from
step t+1)::

    dp_t     = dh_t * act'(p_t)          (1 - h_t^2, or [h_t > 0])    dgx[t]
    dh_{t-1} = dp_t W_hh                 (carried unless truncated)

The input and recurrent pre-activations are the same sum, so ``dgh`` is
``dgx``; ``cs``, ``aux``, ``dcn`` and ``dtmp`` are unused (see the calling
convention in :mod:`tsrnn._engine.kernels`).
"""

from tsrnn._engine.jit import njit
from tsrnn._engine.kernels.common import (
    add,
    carry_back,
    hold,
    input_projection,
    recurrent_projection,
    tanh,
)


@njit(cache=False)
def forward(xin, w_ih, w_hh, b_ih, b_hh, gates, hs, cs, aux, gh, relu, ln, warm):
    """Run one layer over all steps, keeping what BPTT needs (``hs``)."""
    T, m, H = gates.shape
    input_projection(xin, w_ih, gates.reshape(T * m, H))
    b = add(b_ih, b_hh)
    for t in range(T):
        recurrent_projection(hs, t, w_hh, gh, warm)
        for i in range(m):
            p = gates[t, i]
            r = gh[i]
            h = hs[t + 1, i]
            for j in range(H):
                p[j] += r[j] + b[j]
            if relu:
                for j in range(H):
                    h[j] = max(p[j], 0)
            else:
                for j in range(H):
                    h[j] = tanh(p[j])
        hold(hs, t, ln)


@njit(cache=False)
def backward(dh_in, w_hh, gates, hs, cs, aux, dgx, dgh, dhn, dcn, dtmp, trunc, relu, ln,
             to_h0):
    """BPTT through one layer: writes ``dgx`` = dp_t for every step."""
    T, m, H = dgx.shape
    for t in range(T - 1, -1, -1):
        for i in range(m):
            for j in range(H):
                dh = dh_in[t, i, j] + dhn[i, j]
                h = hs[t + 1, i, j]
                if relu:
                    dgx[t, i, j] = dh if h > 0 else 0
                else:
                    dgx[t, i, j] = dh * (1 - h * h)
        carry_back(t, T, trunc, dgx, w_hh, dhn, dcn, dtmp[:0], ln, to_h0)
