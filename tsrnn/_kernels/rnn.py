"""Elman RNN layer: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

All cells share one calling convention, so the network driver can dispatch on a
cell code.  Buffers are time-major: ``gates`` (T, m, G*H), ``hs`` (T+1, m, H)
with ``hs[0]`` the zero initial state.  ``cs``/``aux`` are unused here.
"""

import numpy as np

from tsrnn._jit import njit
from tsrnn._kernels._math import input_projection, recurrent_projection, tanh


@njit
def forward(xin, w_ih, w_hh, b_ih, b_hh, gates, hs, cs, aux, gh, relu):
    """Run one layer over all steps, keeping what BPTT needs (``hs``).

    ``xin`` is the (T*m, D) input; its projection for all steps is one GEMM.
    """
    T, m, H = gates.shape
    input_projection(xin, w_ih, gates.reshape(T * m, H))
    b = b_ih + b_hh
    for t in range(T):
        recurrent_projection(hs, t, w_hh, gh)
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


@njit
def backward(dh_in, w_hh, gates, hs, cs, aux, dgx, dgh, dhn, dcn, dtmp, trunc, relu):
    """BPTT through one layer.

    ``dh_in`` (T, m, H) is the gradient reaching each step's output from
    above.  Writes ``dgx`` (T, m, H), the gradient of the pre-activation
    (here the same for the input and the recurrent projection, so ``dgh`` is
    ``dgx``).  The state entering step t is detached when (T - t) % trunc == 0.
    """
    T, m, H = dgx.shape
    dhn[:] = 0
    for t in range(T - 1, -1, -1):
        for i in range(m):
            for j in range(H):
                dh = dh_in[t, i, j] + dhn[i, j]
                h = hs[t + 1, i, j]
                if relu:
                    dgx[t, i, j] = dh if h > 0 else 0
                else:
                    dgx[t, i, j] = dh * (1 - h * h)
        if t > 0:
            if (T - t) % trunc == 0:
                dhn[:] = 0
            else:
                np.dot(dgx[t], w_hh, dhn)
