"""LSTM layer, PyTorch gate order (i, f, g, o).

i, f, o = sigmoid, g = tanh; c_t = f c_{t-1} + i g; h_t = o tanh(c_t).
Same calling convention as :mod:`tsrnn._kernels.rnn`; ``gates`` keeps the
activated gates, ``cs`` (T+1, m, H) the cell states and ``aux`` (T, m, H)
tanh(c_t).
"""

import numpy as np

from tsrnn._jit import njit
from tsrnn._kernels._math import sigmoid, tanh


@njit
def forward(xin, w_ih, w_hh, b_ih, b_hh, gates, hs, cs, aux, gh, relu):
    """Run one layer over all steps, keeping gates, cell states and tanh(c)."""
    T, m, G = gates.shape
    H = G // 4
    np.dot(xin, w_ih.T, gates.reshape(T * m, G))
    b = b_ih + b_hh
    for t in range(T):
        if t > 0:
            np.dot(hs[t], w_hh.T, gh)
        else:
            gh[:] = 0
        for i in range(m):
            # Short single-purpose passes: with few arrays per loop LLVM can
            # prove (or check) non-aliasing and vectorise; one fused loop
            # over all gates ran 2-4x slower (benchmarks/RESULTS.md).
            g = gates[t, i]
            r = gh[i]
            for j in range(G):
                g[j] += r[j] + b[j]
            for j in range(2 * H):
                g[j] = sigmoid(g[j])
            for j in range(2 * H, 3 * H):
                g[j] = tanh(g[j])
            for j in range(3 * H, G):
                g[j] = sigmoid(g[j])
            c_prev = cs[t, i]
            c = cs[t + 1, i]
            tc = aux[t, i]
            h = hs[t + 1, i]
            for j in range(H):
                c[j] = g[H + j] * c_prev[j] + g[j] * g[2 * H + j]
            for j in range(H):
                tc[j] = tanh(c[j])
            for j in range(H):
                h[j] = g[3 * H + j] * tc[j]


@njit
def backward(dh_in, w_hh, gates, hs, cs, aux, dgx, dgh, dhn, dcn, dtmp, trunc, relu):
    """BPTT through one layer; writes pre-activation gate gradients ``dgx``."""
    T, m, G = dgx.shape
    H = G // 4
    dhn[:] = 0
    dcn[:] = 0
    for t in range(T - 1, -1, -1):
        for i in range(m):
            g = gates[t, i]
            d = dgx[t, i]
            for j in range(H):
                gi = g[j]
                gf = g[H + j]
                gg = g[2 * H + j]
                go = g[3 * H + j]
                tc = aux[t, i, j]
                dh = dh_in[t, i, j] + dhn[i, j]
                dc = dcn[i, j] + dh * go * (1 - tc * tc)
                d[j] = dc * gg * gi * (1 - gi)
                d[H + j] = dc * cs[t, i, j] * gf * (1 - gf)
                d[2 * H + j] = dc * gi * (1 - gg * gg)
                d[3 * H + j] = dh * tc * go * (1 - go)
                dcn[i, j] = dc * gf
        if t > 0:
            if (T - t) % trunc == 0:
                dhn[:] = 0
                dcn[:] = 0
            else:
                np.dot(dgx[t], w_hh, dhn)
