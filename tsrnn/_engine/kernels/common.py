"""What the cells share: activations, the input and recurrent projections, the BPTT carry.

The activations are written as plain arithmetic, without calls into libm:
Numba has no vector ``tanh``/``exp`` without Intel's SVML, so ``math.tanh``
and ``math.exp`` are one scalar library call per element (~8 ns in float64),
while arithmetic in a loop vectorises (``benchmarks/bench_activations.py``;
figures in ``benchmarks/RESULTS.md``, "float64 vector math").

- float32 uses Eigen's clamped [13/6] rational approximation of tanh (a few
  ulp of error); the sigmoid is derived from it, sigmoid(x) = 0.5 + 0.5
  tanh(x/2).
- float64 uses Cephes' rational ``x + x^3 P(x^2)/Q(x^2)`` for |x| < 0.625 and
  ``1 - 2e/(1 + e)`` with ``e = exp(-2|x|)`` above (odd: computed for |x|); the sigmoid is ``1/(1 +
  e)`` (x >= 0) or ``e/(1 + e)`` (x < 0) with ``e = exp(-|x|)``, so no
  argument of exp is positive and nothing overflows.  exp is Cody-Waite range
  reduction, ``x = k ln2 + r`` with |r| <= ln2/2 (k by the 1.5 * 2^52
  rounding trick, read from the bits), a degree-13 Taylor polynomial in r,
  and 2^k built from its exponent bits in two factors, so that results down
  to the subnormals are rounded once.  Both branches are computed and one is
  selected, which is what lets the loops vectorise.  Measured against
  long-double references over a dense sweep and the edge cases
  (``tests/test_activations.py``): tanh within 1.5 ulp (libm's within 1.2),
  the sigmoid within 2.5 ulp, exp within 1 ulp; NaN stays NaN, ±inf and huge
  arguments saturate, subnormal arguments give tanh(x) = x.  Changing libm
  for these moved float64 results by ~1e-16 relative: PyTorch parity (1e-10)
  holds.
"""

import math

import numpy as np

from tsrnn._engine.jit import FASTMATH, bits_float64, float64_bits, is_float32, njit, overload

_OPTS = {"fastmath": FASTMATH, "error_model": "numpy"}

# Eigen's generic_fast_tanh_float coefficients (Eigen/src/Core/MathFunctionsImpl.h).
_CLAMP = 7.90531110763549805
_A1, _A3, _A5 = 4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05
_A7, _A9 = 5.12229709037114e-08, -8.60467152213735e-11
_A11, _A13 = 2.00018790482477e-13, -2.76076847742355e-16
_B0, _B2, _B4, _B6 = 4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06

# float64 tanh for |x| < 0.625: Cephes' tanh.c (Cody & Waite's form), Q monic.
_P0, _P1, _P2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3
_Q0, _Q1, _Q2 = 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3
# float64 exp: ln2 split so that k * _LN2_HI is exact for |k| < 2^20 (fdlibm's e_exp.c).
_LOG2E = 1.4426950408889634
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2^52: x + _ROUND - _ROUND rounds x to an integer
_ROUND_BITS = 0x4338000000000000  # its bits: the integer sits in the low mantissa bits
_EXP_MIN = -1000.0  # exp(-1000) = 0 in float64; keeps k and the 2^k factors in range
_E2, _E3, _E4, _E5, _E6, _E7 = (1 / math.factorial(n) for n in range(2, 8))
_E8, _E9, _E10, _E11, _E12, _E13 = (1 / math.factorial(n) for n in range(8, 14))


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


@njit(inline=True)
def exp_nonpositive(x):
    """exp(x) of a float64 x <= 0 (or NaN), in vectorisable arithmetic (module docstring).

    Positive arguments are not handled (2^k would overflow its exponent
    field); the activations never pass one.
    """
    x = _EXP_MIN if x < _EXP_MIN else x  # written so that NaN stays NaN
    t = x * _LOG2E + _ROUND
    kf = t - _ROUND
    k = float64_bits(t) - _ROUND_BITS  # kf as an integer, without a float-int conversion
    r = x - kf * _LN2_HI
    r = r - kf * _LN2_LO
    q = _E13
    q = q * r + _E12
    q = q * r + _E11
    q = q * r + _E10
    q = q * r + _E9
    q = q * r + _E8
    q = q * r + _E7
    q = q * r + _E6
    q = q * r + _E5
    q = q * r + _E4
    q = q * r + _E3
    q = q * r + _E2
    p = 1.0 + (r + r * r * q)
    # 2^k = 2^k1 2^k2, each a normal number for k >= -1443; p 2^k1 is exact, so a
    # subnormal result is rounded once, in the last product.
    k1 = k >> 1
    return p * bits_float64((k1 + 1023) << 52) * bits_float64((k - k1 + 1023) << 52)


def _tanh_f64(x):
    ax = abs(x)
    s = ax * ax
    p = (_P0 * s + _P1) * s + _P2
    q = ((s + _Q0) * s + _Q1) * s + _Q2
    # tanh(22) rounds to 1; the clamp keeps e normal
    e = exp_nonpositive(-2.0 * (22.0 if ax > 22.0 else ax))
    small = ax < 0.625
    # one division for both branches: ax + ax s P/Q, or 1 - 2e/(1 + e)
    z = (ax * s * p if small else 2.0 * e) / (q if small else 1.0 + e)
    return math.copysign(ax + z if small else 1.0 - z, x)


def _sigmoid_f64(x):
    e = exp_nonpositive(-abs(x))
    return (1.0 if x >= 0 else e) / (1.0 + e)


@overload(tanh, jit_options=_OPTS)
def _ov_tanh(x):
    if is_float32(x):
        return _tanh_f32
    return _tanh_f64


@overload(sigmoid, jit_options=_OPTS)
def _ov_sigmoid(x):
    if is_float32(x):
        half = np.float32(0.5)
        return lambda x: half + half * tanh(half * x)
    return _sigmoid_f64


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
