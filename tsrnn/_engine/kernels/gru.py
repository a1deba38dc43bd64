"""GRU layer, PyTorch's gate order r, z, n (blocks of H in ``gates``).

Forward, for each step t (``s`` the logistic sigmoid)::

    r_t = s(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate    gates[t, :, 0H:1H]
    z_t = s(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate   gates[t, :, 1H:2H]
    q_t = W_hn h_{t-1} + b_hn                               aux[t]
    n_t = tanh(W_in x_t + b_in + r_t * q_t)                 candidate     gates[t, :, 2H:3H]
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                   hs[t + 1]

Backward, with ``dh_t`` the total gradient of h_t::

    dn_t = dh_t * (1 - z_t) * (1 - n_t^2)
    dr_t = dn_t * q_t * r_t (1 - r_t)
    dz_t = dh_t * (h_{t-1} - n_t) * z_t (1 - z_t)
    dh_{t-1} = d[r z (r*n)]_t W_hh + dh_t * z_t                 (unless truncated)

Because r_t multiplies only the recurrent part of n_t, the input side
(``dgx``: dr, dz, dn) and the recurrent side (``dgh``: dr, dz, r * dn) of the
pre-activation gradient differ in the n block; ``dtmp`` holds dh_t * z_t.
"""

from tsrnn._engine.jit import njit
from tsrnn._engine.kernels.common import (
    add,
    carry_back,
    hold,
    input_projection,
    recurrent_projection,
    sigmoid,
    tanh,
)


@njit(cache=False)
def forward(xin, w_ih, w_hh, b_ih, b_hh, gates, hs, cs, aux, gh, relu, ln, warm):
    """Run one layer over all steps, keeping r, z, n and q = W_hn h + b_hn."""
    T, m, G = gates.shape
    H = G // 3
    input_projection(xin, w_ih, gates.reshape(T * m, G))
    b_rz = add(b_ih[:2 * H], b_hh[:2 * H])
    for t in range(T):
        recurrent_projection(hs, t, w_hh, gh, warm)
        for i in range(m):
            # Short passes vectorise where one fused loop does not (see lstm.py).
            gate = gates[t, i]
            r = gh[i]
            q = aux[t, i]
            for j in range(2 * H):  # r, z
                gate[j] = sigmoid(gate[j] + r[j] + b_rz[j])
            for j in range(H):
                q[j] = r[2 * H + j] + b_hh[2 * H + j]
            for j in range(H):  # n
                gate[2 * H + j] = tanh(gate[2 * H + j] + b_ih[2 * H + j] + gate[j] * q[j])
            h_prev = hs[t, i]
            h = hs[t + 1, i]
            for j in range(H):
                h[j] = (1 - gate[H + j]) * gate[2 * H + j] + gate[H + j] * h_prev[j]
        hold(hs, t, ln)


@njit(cache=False)
def backward(dh_in, w_hh, gates, hs, cs, aux, dgx, dgh, dhn, dcn, dtmp, trunc, relu, ln,
             to_h0):
    """BPTT through one layer: writes ``dgx`` (input side) and ``dgh`` (recurrent side)."""
    T, m, G = dgx.shape
    H = G // 3
    for t in range(T - 1, -1, -1):
        for i in range(m):
            gate = gates[t, i]
            d_in = dgx[t, i]
            d_rec = dgh[t, i]
            for j in range(H):
                r = gate[j]
                z = gate[H + j]
                n = gate[2 * H + j]
                q = aux[t, i, j]
                h_prev = hs[t, i, j]
                dh = dh_in[t, i, j] + dhn[i, j]
                dn = dh * (1 - z) * (1 - n * n)
                d_r = dn * q * r * (1 - r)
                d_z = dh * (h_prev - n) * z * (1 - z)
                d_in[j] = d_r
                d_in[H + j] = d_z
                d_in[2 * H + j] = dn
                d_rec[j] = d_r
                d_rec[H + j] = d_z
                d_rec[2 * H + j] = dn * r
                dtmp[i, j] = dh * z
        carry_back(t, T, trunc, dgh, w_hh, dhn, dcn, dtmp, ln, to_h0)
