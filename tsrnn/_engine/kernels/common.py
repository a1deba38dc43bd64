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
def recurrent_projection(hs, t, w_hh, gh):
    """``gh = h_{t-1} W_hh^T`` for step t (zero at t = 0, where h_{-1} = 0)."""
    if t > 0:
        np.dot(hs[t], w_hh.T, gh)
    else:
        gh[:] = 0


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
def carry_back(t, T, trunc, dg, w_hh, dh_prev):
    """The gradient reaching ``h_{t-1}`` through the recurrent weights, ``dh_prev =
    dg_t W_hh`` from step t's recurrent pre-activation gradient ``dg_t`` (m, G).

    Truncated BPTT detaches the state entering step t when ``(T - t) % trunc
    == 0``: then ``dh_prev`` is zero.  Returns whether the gradient was
    carried (False also at t = 0, where there is no earlier step).
    """
    if t == 0:
        return False
    if (T - t) % trunc == 0:
        dh_prev[:] = 0
        return False
    np.dot(dg[t], w_hh, dh_prev)
    return True
