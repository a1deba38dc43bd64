"""The kernels' activations (``tsrnn._engine.kernels.common``) against long-double references.

float64 tanh and sigmoid are vectorisable arithmetic instead of libm
calls; their error bounds (module docstring) are checked here in ulp of the
correctly rounded result over a dense sweep and the edge cases, together with
what makes them worth having: the loops over them vectorise, and an element's
result does not depend on whether it went through the vector body or the
scalar remainder of a loop.
"""

import re

import numba
import numpy as np
import pytest

from tsrnn._engine.jit import _OPTIONS
from tsrnn._engine.kernels.common import sigmoid, tanh

_LD = np.longdouble
pytestmark = pytest.mark.skipif(np.finfo(_LD).eps > 1e-18,
                                reason="needs an extended-precision long double")
_JIT = dict(_OPTIONS, cache=False)


@numba.njit(**_JIT)
def _tanh_loop(x, out):
    for j in range(x.shape[0]):
        out[j] = tanh(x[j])


@numba.njit(**_JIT)
def _sigmoid_loop(x, out):
    for j in range(x.shape[0]):
        out[j] = sigmoid(x[j])


@numba.njit(**_JIT)
def _tanh_one(x):
    return tanh(x)


def _apply(loop, x):
    out = np.empty_like(x)
    loop(x, out)
    return out


def _ulp_error(y, want):
    """|y - want| in units of the last place of ``want`` rounded to float64 (subnormals too)."""
    spacing = np.spacing(np.abs(want.astype(np.float64))).astype(_LD)
    return np.abs((y.astype(_LD) - want) / spacing).astype(np.float64)


def _sweep():
    """A dense grid over the interesting range, magnitudes from the subnormals to 1e300,
    and the neighbours of the branch points, in both signs."""
    mags = np.geomspace(5e-324, 1e300, 40_000)
    edges = np.array([0.5 * np.log(2) / 2, 22.0, 708.4, 745.1, 1000.0])
    near = np.concatenate([np.nextafter(edges, 0), edges, np.nextafter(edges, np.inf)])
    x = np.concatenate([np.linspace(-40, 40, 400_001), mags, near])
    return np.concatenate([x, -x])


def test_float64_tanh_within_2_ulp_of_long_double():
    x = _sweep()
    y = _apply(_tanh_loop, x)
    assert _ulp_error(y, np.tanh(x.astype(_LD))).max() <= 2.0


def test_float64_sigmoid_within_2_5_ulp_of_long_double():
    x = _sweep()
    y = _apply(_sigmoid_loop, x)
    xl = x.astype(_LD)
    with np.errstate(over="ignore"):
        want = 1 / (1 + np.exp(-xl))
    # including the subnormal results (x < -708.4), which libm's 1/(1 + exp(-x)) flushes to 0
    assert _ulp_error(y, want).max() <= 2.5


def test_float64_edge_cases():
    tiny = 5e-324
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, tiny, -tiny, 1e300, -1e300])
    np.testing.assert_array_equal(_apply(_tanh_loop, x),
                                  [0, 0, 1, -1, np.nan, tiny, -tiny, 1, -1])
    np.testing.assert_array_equal(_apply(_sigmoid_loop, x),
                                  [0.5, 0.5, 1, 0, np.nan, 0.5, 0.5, 1, 0])


def test_float32_activations_stay_close_to_long_double():
    """float32 keeps its rational tanh (a few ulp; the float64 change must not touch it)."""
    x = np.linspace(-12, 12, 100_001).astype(np.float32)
    xl = x.astype(_LD)
    t = _apply(_tanh_loop, x)
    s = _apply(_sigmoid_loop, x)
    assert t.dtype == s.dtype == np.float32
    tol = 8 * np.finfo(np.float32).eps
    assert np.abs(t - np.tanh(xl)).max() <= tol
    assert np.abs(s - 1 / (1 + np.exp(-xl))).max() <= tol


def test_vector_body_and_scalar_remainder_agree_bitwise():
    """Whether an element lands in a loop's vector body or its scalar remainder (which
    depends on the loop's length and the element's position) does not change its value:
    the rows' results cannot depend on the hidden size's remainder or the batch split."""
    x = np.random.default_rng(0).normal(scale=3, size=1003)
    looped = _apply(_tanh_loop, x)
    single = np.array([_tanh_one(v) for v in x])
    shifted = _apply(_tanh_loop, x[1:])  # every element at another offset
    assert looped.tobytes() == single.tobytes()
    assert looped[1:].tobytes() == shifted.tobytes()


def test_float64_loops_vectorise_without_libm_calls():
    """The point of the arithmetic forms: LLVM turns these loops into vector code."""
    x = np.ones(8)
    for loop in (_tanh_loop, _sigmoid_loop):
        loop(x, np.empty_like(x))
        ir = loop.inspect_llvm(loop.signatures[0])
        assert re.search(r"<\d+ x double>", ir), loop
        assert not re.search(r"declare [^\n]*@(tanh|exp)\(", ir), loop
