"""GRU layer, PyTorch gate order (r, z, n).

r = sig(W_ir x + b_ir + W_hr h + b_hr), z likewise,
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h_t = (1 - z) n + z h_{t-1}.
Same calling convention as :mod:`tsrnn._kernels.rnn`; ``gates`` keeps r, z, n
and ``aux`` (T, m, H) the recurrent candidate term W_hn h + b_hn.  Because r
multiplies only the recurrent part of n, the recurrent gradient ``dgh``
differs from the input gradient ``dgx`` in the n block.
"""

import numpy as np

from tsrnn._jit import njit
from tsrnn._kernels._math import input_projection, recurrent_projection, sigmoid, tanh


@njit
def forward(xin, w_ih, w_hh, b_ih, b_hh, gates, hs, cs, aux, gh, relu):
    """Run one layer over all steps, keeping r, z, n and W_hn h + b_hn."""
    T, m, G = gates.shape
    H = G // 3
    input_projection(xin, w_ih, gates.reshape(T * m, G))
    b_rz = b_ih[:2 * H] + b_hh[:2 * H]
    for t in range(T):
        recurrent_projection(hs, t, w_hh, gh)
        for i in range(m):
            # Short passes vectorise where one fused loop does not (see lstm.py).
            g = gates[t, i]
            r = gh[i]
            hn = aux[t, i]
            for j in range(2 * H):
                g[j] = sigmoid(g[j] + r[j] + b_rz[j])
            for j in range(H):
                hn[j] = r[2 * H + j] + b_hh[2 * H + j]
            for j in range(H):
                g[2 * H + j] = tanh(g[2 * H + j] + b_ih[2 * H + j] + g[j] * hn[j])
            h_prev = hs[t, i]
            h = hs[t + 1, i]
            for j in range(H):
                h[j] = (1 - g[H + j]) * g[2 * H + j] + g[H + j] * h_prev[j]


@njit
def backward(dh_in, w_hh, gates, hs, cs, aux, dgx, dgh, dhn, dcn, dtmp, trunc, relu):
    """BPTT through one layer; writes ``dgx`` (input side) and ``dgh`` (recurrent side)."""
    T, m, G = dgx.shape
    H = G // 3
    dhn[:] = 0
    for t in range(T - 1, -1, -1):
        for i in range(m):
            g = gates[t, i]
            dx = dgx[t, i]
            dr = dgh[t, i]
            for j in range(H):
                gr = g[j]
                gz = g[H + j]
                gn = g[2 * H + j]
                hn = aux[t, i, j]
                hp = hs[t, i, j]
                dh = dh_in[t, i, j] + dhn[i, j]
                dn = dh * (1 - gz) * (1 - gn * gn)
                d_r = dn * hn * gr * (1 - gr)
                d_z = dh * (hp - gn) * gz * (1 - gz)
                dx[j] = d_r
                dx[H + j] = d_z
                dx[2 * H + j] = dn
                dr[j] = d_r
                dr[H + j] = d_z
                dr[2 * H + j] = dn * gr
                dtmp[i, j] = dh * gz
        if t > 0:
            if (T - t) % trunc == 0:
                dhn[:] = 0
            else:
                np.dot(dgh[t], w_hh, dhn)
                dhn += dtmp
