"""What the cells share: activations, the input and recurrent projections, the BPTT carry.

float64 uses the exact libm functions (PyTorch parity to 1e-10).  float32 uses
Eigen's clamped [13/6] rational approximation of tanh (a few ulp of error),
because ``math.tanh``/``math.exp`` on float32 do not vectorise in Numba
without SVML while the rational form does; measured several times faster at
small hidden sizes.  The sigmoid is derived from it: sigmoid(x) =
0.5 + 0.5 tanh(x/2).
"""

import math

import numpy as np

from tsrnn._engine.jit import FASTMATH, is_float32, njit, overload

_OPTS = {"fastmath": FASTMATH, "error_model": "numpy"}

# Eigen's generic_fast_tanh_float coefficients (Eigen/src/Core/MathFunctionsImpl.h).
_CLAMP = 7.90531110763549805
_A1, _A3, _A5 = 4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05
_A7, _A9 = 5.12229709037114e-08, -8.60467152213735e-11
_A11, _A13 = 2.00018790482477e-13, -2.76076847742355e-16
_B0, _B2, _B4, _B6 = 4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06


def tanh(x):
    """Hyperbolic tangent (Numba-only; see the module docstring)."""
    return math.tanh(x)


def sigmoid(x):
    """Logistic function (Numba-only; see the module docstring)."""
    return 1.0 / (1.0 + math.exp(-x))


def _tanh_f32(x):
    c = np.float32(_CLAMP)
    x = min(max(x, -c), c)
    x2 = x * x
    p = np.float32(_A13)
    p = p * x2 + np.float32(_A11)
    p = p * x2 + np.float32(_A9)
    p = p * x2 + np.float32(_A7)
    p = p * x2 + np.float32(_A5)
    p = p * x2 + np.float32(_A3)
    p = p * x2 + np.float32(_A1)
    q = np.float32(_B6)
    q = q * x2 + np.float32(_B4)
    q = q * x2 + np.float32(_B2)
    q = q * x2 + np.float32(_B0)
    return x * p / q


@overload(tanh, jit_options=_OPTS)
def _ov_tanh(x):
    if is_float32(x):
        return _tanh_f32
    return lambda x: math.tanh(x)


@overload(sigmoid, jit_options=_OPTS)
def _ov_sigmoid(x):
    if is_float32(x):
        half = np.float32(0.5)
        return lambda x: half + half * tanh(half * x)
    return lambda x: 1.0 / (1.0 + math.exp(-x))


@njit(cache=False)
def add(a, b):
    """``a + b`` of two vectors, written out: NumPy's array expressions pull in Numba's
    shape-checking error machinery, seconds of compile time for nothing here."""
    out = np.empty(a.shape[0], a.dtype)
    for j in range(a.shape[0]):
        out[j] = a[j] + b[j]
    return out


@njit(cache=False)
def recurrent_projection(hs, t, w_hh, gh, warm):
    """``gh = h_{t-1} W_hh^T`` for step t (zero at t = 0 unless the layer starts from a
    given state, ``warm``: otherwise h_{-1} = 0)."""
    if t > 0 or warm:
        np.dot(hs[t], w_hh.T, gh)
    else:
        gh[:] = 0


@njit(cache=False)
def hold(states, t, ln):
    """Freeze the rows past their length: the state after step t is the one before it.

    ``ln`` holds the chunk's sequence lengths (empty: all run to the end).  A
    finished sequence's state is carried unchanged to the last step, so that
    the final state (and the many-to-one head reading it) is each sequence's
    own last real step; its gate values there are computed but never used.
    Called once per step, after the rows' loop (a check inside that loop
    slowed small networks by a fifth).
    """
    for i in range(ln.shape[0]):
        if t >= ln[i]:
            src = states[t, i]
            dst = states[t + 1, i]
            for j in range(dst.shape[0]):
                dst[j] = src[j]


@njit(cache=False)
def input_projection(xin, w_ih, out):
    """``out = xin @ w_ih.T`` for all steps of a layer at once, ``xin`` (T*m, D).

    One GEMM, except for a single input channel (univariate series), where
    the outer product written out is 1.4-3x faster than SGEMM with K = 1
    (``benchmarks/bench_matmul.py``).
    """
    if xin.shape[1] == 1:
        for r in range(xin.shape[0]):
            x = xin[r, 0]
            o = out[r]
            for g in range(out.shape[1]):
                o[g] = x * w_ih[g, 0]
    else:
        np.dot(xin, w_ih.T, out)


@njit(cache=False)
def input_weight_grad(dg, xin, out):
    """``out = dg.T @ xin``, the gradient of W_ih; written out for one input channel."""
    if xin.shape[1] == 1:
        out[:] = 0
        for r in range(xin.shape[0]):
            x = xin[r, 0]
            d = dg[r]
            for g in range(out.shape[0]):
                out[g, 0] += d[g] * x
    else:
        np.dot(dg.T, xin, out)


@njit(cache=False)
def carry_back(t, T, trunc, dg, w_hh, dh_prev, dc_prev, extra, ln, to_h0):
    """The gradient reaching ``h_{t-1}`` through the recurrent weights, ``dh_prev =
    dg_t W_hh (+ extra)`` from step t's recurrent pre-activation gradient ``dg_t`` (m, G).

    ``extra`` (m, H) is a cell's direct path from h_t to h_{t-1} (the GRU's
    ``dh_t * z_t``; empty for the others).  Truncated BPTT detaches the state
    entering step t of a sequence of length ``L`` when ``(L - t) % trunc ==
    0`` (``trunc`` > T: no truncation): then that row of ``dh_prev`` and of the
    LSTM's carried cell gradient ``dc_prev`` is zero.  ``L`` is T, or the
    row's own length in ``ln`` (rows past their length carry zero anyway:
    their gate gradients are zero).  At t = 0 the gradient is computed only
    when the initial state's gradient is wanted (``to_h0``); otherwise
    ``dh_prev`` is left as it is.
    """
    if t == 0 and not to_h0:
        return
    m = dh_prev.shape[0]
    if ln.shape[0] == 0:
        if (T - t) % trunc == 0:
            dh_prev[:] = 0
            dc_prev[:] = 0
            return
        np.dot(dg[t], w_hh, dh_prev)
        if extra.shape[0] > 0:
            for i in range(m):
                for j in range(dh_prev.shape[1]):
                    dh_prev[i, j] += extra[i, j]
        return
    np.dot(dg[t], w_hh, dh_prev)
    for i in range(m):
        if t < ln[i] and (ln[i] - t) % trunc == 0:
            dh_prev[i, :] = 0
            dc_prev[i, :] = 0
        elif extra.shape[0] > 0:
            for j in range(dh_prev.shape[1]):
                dh_prev[i, j] += extra[i, j]
