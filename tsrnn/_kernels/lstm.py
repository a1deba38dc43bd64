"""LSTM layer, PyTorch gate order (i, f, g, o).

i, f, o = sigmoid, g = tanh; c_t = f c_{t-1} + i g; h_t = o tanh(c_t).
Same calling convention as :mod:`tsrnn._kernels.rnn`; ``gates`` keeps the
activated gates, ``cs`` (T+1, m, H) the cell states and ``aux`` (T, m, H)
tanh(c_t).
"""

import numpy as np

from tsrnn._jit import njit
from tsrnn._kernels._math import input_projection, recurrent_projection, tanh


@njit
def forward(xin, w_ih, w_hh, b_ih, b_hh, gates, hs, cs, aux, gh, relu):
    """Run one layer over all steps, keeping gates, cell states and tanh(c)."""
    T, m, G = gates.shape
    H = G // 4
    input_projection(xin, w_ih, gates.reshape(T * m, G))
    b = b_ih + b_hh
    # sigmoid(x) = 0.5 + 0.5 tanh(x / 2), so every gate is a * tanh(a * x) + d
    # and one loop of length 4H covers all four (long enough to vectorise at
    # small H, where per-gate loops of length H were mostly scalar).
    a = np.full(G, 0.5, gates.dtype)
    a[2 * H:3 * H] = 1
    d = np.full(G, 0.5, gates.dtype)
    d[2 * H:3 * H] = 0
    for t in range(T):
        recurrent_projection(hs, t, w_hh, gh)
        for i in range(m):
            # Short single-purpose passes: with few arrays per loop LLVM can
            # prove (or check) non-aliasing and vectorise; one fused loop
            # over all gates ran 2-4x slower (benchmarks/RESULTS.md).
            g = gates[t, i]
            r = gh[i]
            for j in range(G):
                g[j] = a[j] * tanh(a[j] * (g[j] + r[j] + b[j])) + d[j]
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
            # Short passes over few arrays, so that they vectorise (see forward).
            g = gates[t, i]
            d = dgx[t, i]
            tc = aux[t, i]
            c_prev = cs[t, i]
            dh = dhn[i]  # becomes the total gradient of h_t; overwritten below
            dc = dcn[i]
            dh_up = dh_in[t, i]
            for j in range(H):
                dh[j] += dh_up[j]
            for j in range(H):
                d[3 * H + j] = dh[j] * tc[j] * g[3 * H + j] * (1 - g[3 * H + j])
            for j in range(H):
                dc[j] += dh[j] * g[3 * H + j] * (1 - tc[j] * tc[j])
            for j in range(H):
                d[j] = dc[j] * g[2 * H + j] * g[j] * (1 - g[j])
            for j in range(H):
                d[H + j] = dc[j] * c_prev[j] * g[H + j] * (1 - g[H + j])
            for j in range(H):
                d[2 * H + j] = dc[j] * g[j] * (1 - g[2 * H + j] * g[2 * H + j])
            for j in range(H):
                dc[j] *= g[H + j]
        if t > 0:
            if (T - t) % trunc == 0:
                dhn[:] = 0
                dcn[:] = 0
            else:
                np.dot(dgx[t], w_hh, dhn)
