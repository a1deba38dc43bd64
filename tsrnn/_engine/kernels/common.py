"""What the cells share: activations, the input and recurrent projections, the BPTT carry.

The activations are written as plain arithmetic, without calls into libm:
Numba has no vector ``tanh``/``exp`` without Intel's SVML, so ``math.tanh``
and ``math.exp`` are one scalar library call per element (~8 ns in float64),
while arithmetic in a loop vectorises (``benchmarks/bench_activations.py``;
figures in ``benchmarks/RESULTS.md``, "float64 vector math").

- float32 uses Eigen's clamped [13/6] rational approximation of tanh (a few
  ulp of error); the sigmoid is derived from it, sigmoid(x) = 0.5 + 0.5
  tanh(x/2).
- float64 reduces both to e = exp(-|x|) or exp(-2|x|), so that no argument
  of exp is positive and nothing overflows: tanh|x| = (1 - e)/(1 + e), the
  sigmoid 1/(1 + e) (x >= 0) or e/(1 + e) (x < 0).  exp is Cody-Waite range
  reduction, x = k ln2 + r with |r| <= ln2/2 (k found by the 1.5 * 2^52
  rounding trick and read from the bits), expm1(r) by a degree-13 Taylor
  polynomial, and 2^k built from its exponent bits; e = 2^k (1 + expm1(r))
  lets ``1 -+ e`` be formed with one rounding each, so small |x| loses
  nothing to cancellation.  Measured against long-double references over a
  dense sweep and the edge cases (``tests/test_activations.py``): tanh
  within 2 ulp (libm's: 2.05), the sigmoid within 2.5 ulp (libm's 1/(1 +
  exp(-x)): 2.4, and it flushes the subnormal results below x = -708 to 0,
  which this keeps); NaN stays NaN, +-inf and huge arguments saturate,
  subnormal arguments give tanh(x) = x.  Against libm this moves float64
  results by ~1e-16 relative (gradients up to ~1e-15): PyTorch parity
  (1e-10) holds.
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

# float64 exp: ln2 split so that k * _LN2_HI is exact for |k| < 2^20 (fdlibm's e_exp.c).
_LOG2E = 1.4426950408889634
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2^52: x + _ROUND - _ROUND rounds x to an integer
_ROUND_BITS = 0x4338000000000000  # its bits: the integer sits in the low mantissa bits
_EXP_MAX = 1000.0  # exp(-1000) = 0 in float64; the clamp keeps k >= -1443
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
def _exp_reduced(x):
    """``(k, m)`` with exp(x) = 2^k (1 + m), for float64 x in [-1000, 0] (or NaN).

    Cody-Waite: x = k ln2 + r with |r| <= ln2/2, k rounded by adding 1.5 * 2^52
    and read back from the bits (a float-int conversion would not vectorise
    without AVX-512), ``m = expm1(r)`` by its Taylor polynomial to degree 13
    (truncation error below 2e-17 relative).
    """
    t = x * _LOG2E + _ROUND
    kf = t - _ROUND
    k = float64_bits(t) - _ROUND_BITS
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
    return k, r + r * r * q


@njit(inline=True)
def _pow2(k):
    """2^k for an integer -1022 <= k <= 1023, from its exponent bits."""
    return bits_float64((k + 1023) << 52)


def _tanh_f64(x):
    # tanh|x| = (1 - e)/(1 + e), e = exp(-2|x|) = s (1 + m): numerator and denominator
    # each rounded once, (1 - s) - s m and (1 + s) + s m (1 -+ s exact, s m fused), so
    # small |x| loses nothing to cancellation (m = -2|x| + ..., s = 1).  tanh(22) = 1.
    a = abs(x)
    k, m = _exp_reduced(-2.0 * (22.0 if a > 22.0 else a))  # written so that NaN stays NaN
    s = _pow2(k)
    sm = s * m
    return math.copysign(((1.0 - s) - sm) / ((1.0 + s) + sm), x)


def _sigmoid_f64(x):
    # e = exp(-|x|) = s (1 + m); sigmoid is 1/(1 + e) for x >= 0, e/(1 + e) below.
    # 2^k = 2^k1 2^k2 in two normal factors so that e, subnormal for x < -708, is
    # rounded once (in the last product); s alone may underflow, when 1 + e is 1.
    a = abs(x)
    k, m = _exp_reduced(-(_EXP_MAX if a > _EXP_MAX else a))
    k1 = k >> 1
    s1 = _pow2(k1)
    s2 = _pow2(k - k1)
    e = (1.0 + m) * s1 * s2
    s = s1 * s2
    return (1.0 if x >= 0 else e) / ((1.0 + s) + s * m)


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
