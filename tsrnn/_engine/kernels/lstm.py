"""LSTM layer, PyTorch's gate order i, f, g, o (blocks of H in ``gates``).

Forward, for each step t (``s`` the logistic sigmoid)::

    i_t = s(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate     gates[t, :, 0H:1H]
    f_t = s(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate    gates[t, :, 1H:2H]
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)  candidate      gates[t, :, 2H:3H]
    o_t = s(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate    gates[t, :, 3H:4H]
    c_t = f_t * c_{t-1} + i_t * g_t                    cell state     cs[t + 1]
    h_t = o_t * tanh(c_t)                              hidden state   hs[t + 1]

``aux[t]`` keeps tanh(c_t).  Backward, with ``dh_t`` and ``dc_t`` the total
gradients of h_t and c_t, the pre-activation gradients (``dgx``, the same on
the input and the recurrent side, so ``dgh`` is ``dgx``)::

    do_t = dh_t * tanh(c_t) * o_t (1 - o_t)
    dc_t = dc_t + dh_t * o_t * (1 - tanh(c_t)^2)
    di_t = dc_t * g_t * i_t (1 - i_t)
    df_t = dc_t * c_{t-1} * f_t (1 - f_t)
    dg_t = dc_t * i_t * (1 - g_t^2)
    dc_{t-1} = dc_t * f_t ;   dh_{t-1} = d[i f g o]_t W_hh     (unless truncated)
"""

import numpy as np

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
    """Run one layer over all steps, keeping the gates, the cell states and tanh(c)."""
    T, m, G = gates.shape
    H = G // 4
    input_projection(xin, w_ih, gates.reshape(T * m, G))
    b = add(b_ih, b_hh)
    # s(x) = 0.5 + 0.5 tanh(x / 2), so every gate is a * tanh(a * x) + d and one
    # loop of length 4H covers all four (long enough to vectorise at small H,
    # where per-gate loops of length H were mostly scalar).
    a = np.empty(G, gates.dtype)
    d = np.empty(G, gates.dtype)
    for j in range(G):
        g_block = 2 * H <= j < 3 * H  # the candidate g is a tanh, the others sigmoids
        a[j] = 1 if g_block else 0.5
        d[j] = 0 if g_block else 0.5
    for t in range(T):
        recurrent_projection(hs, t, w_hh, gh, warm)
        for i in range(m):
            # Short single-purpose passes: with few arrays per loop LLVM can
            # prove (or check) non-aliasing and vectorise; one fused loop
            # over all gates ran 2-4x slower (benchmarks/RESULTS.md).
            gate = gates[t, i]
            r = gh[i]
            for j in range(G):
                gate[j] = a[j] * tanh(a[j] * (gate[j] + r[j] + b[j])) + d[j]
            c_prev = cs[t, i]
            c = cs[t + 1, i]
            tanh_c = aux[t, i]
            h = hs[t + 1, i]
            for j in range(H):  # c = f * c_prev + i * g
                c[j] = gate[H + j] * c_prev[j] + gate[j] * gate[2 * H + j]
            for j in range(H):
                tanh_c[j] = tanh(c[j])
            for j in range(H):  # h = o * tanh(c)
                h[j] = gate[3 * H + j] * tanh_c[j]
        hold(hs, t, ln)
        hold(cs, t, ln)


@njit(cache=False)
def backward(dh_in, w_hh, gates, hs, cs, aux, dgx, dgh, dhn, dcn, dtmp, trunc, relu, ln,
             to_h0):
    """BPTT through one layer: writes d[i f g o]_t into ``dgx`` for every step."""
    T, m, G = dgx.shape
    H = G // 4
    for t in range(T - 1, -1, -1):
        for i in range(m):
            # Short passes over few arrays, so that they vectorise (see forward).
            gate = gates[t, i]
            d = dgx[t, i]
            tanh_c = aux[t, i]
            c_prev = cs[t, i]
            dh = dhn[i]  # becomes dh_t, the total gradient of h_t; overwritten below
            dc = dcn[i]
            dh_up = dh_in[t, i]
            for j in range(H):
                dh[j] += dh_up[j]
            for j in range(H):  # do
                d[3 * H + j] = dh[j] * tanh_c[j] * gate[3 * H + j] * (1 - gate[3 * H + j])
            for j in range(H):  # dc
                dc[j] += dh[j] * gate[3 * H + j] * (1 - tanh_c[j] * tanh_c[j])
            for j in range(H):  # di
                d[j] = dc[j] * gate[2 * H + j] * gate[j] * (1 - gate[j])
            for j in range(H):  # df
                d[H + j] = dc[j] * c_prev[j] * gate[H + j] * (1 - gate[H + j])
            for j in range(H):  # dg
                d[2 * H + j] = dc[j] * gate[j] * (1 - gate[2 * H + j] * gate[2 * H + j])
            for j in range(H):  # dc_{t-1}
                dc[j] *= gate[H + j]
        carry_back(t, T, trunc, dgx, w_hh, dhn, dcn, dtmp[:0], ln, to_h0)
