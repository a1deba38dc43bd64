"""Per-element cost and accuracy of the kernels' activations, old (libm) against new.

The kernels' float64 ``tanh``/``sigmoid`` (``tsrnn._engine.kernels.common``)
were ``math.tanh`` and ``1 / (1 + math.exp(-x))``: one scalar libm call per
element, since Numba has no vector libm without SVML.  They are now plain
arithmetic that LLVM vectorises.  This script times, inside one process,

- a loop ``out[j] = f(x[j])`` compiled with the kernels' options, for the old
  libm forms, the new ones, and float32's rational tanh for reference, over
  vectors of the lengths the cells' gate loops have (16 ... 1024) and a long
  one; old and new alternate, best of ``--rounds`` rounds each;
- NumPy's own ``np.tanh`` over the same arrays (a vectorised peer);

and the error of old and new in ulp of the correctly rounded result (long
double reference) over a dense sweep of [-40, 40], magnitudes from 5e-324 to
1e300, and both signs.

Usage::

    python benchmarks/bench_activations.py [--rounds 7] [--points 4000000]
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np

from tsrnn._engine.jit import _OPTIONS
from tsrnn._engine.kernels.common import sigmoid, tanh

_JIT = dict(_OPTIONS, cache=False)
LENGTHS = (16, 64, 256, 1024, 65536)
ELEMENTS = 4_000_000  # per timed call


def _loop(f):
    @numba.njit(**_JIT)
    def run(x, out, reps):
        for _ in range(reps):
            for j in range(x.shape[0]):
                out[j] = f(x[j])
    return run


@numba.njit(**_JIT)
def _libm_tanh(x):
    return math.tanh(x)


@numba.njit(**_JIT)
def _libm_sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@numba.njit(**_JIT)
def _new_tanh(x):
    return tanh(x)


@numba.njit(**_JIT)
def _new_sigmoid(x):
    return sigmoid(x)


FUNCS = {  # name: (loop, dtype)
    "float64 tanh, libm (old)": (_loop(_libm_tanh), np.float64),
    "float64 tanh, new": (_loop(_new_tanh), np.float64),
    "float64 sigmoid, libm (old)": (_loop(_libm_sigmoid), np.float64),
    "float64 sigmoid, new": (_loop(_new_sigmoid), np.float64),
    "float32 tanh, rational": (_loop(_new_tanh), np.float32),
    "float32 sigmoid, rational": (_loop(_new_sigmoid), np.float32),
}


def _time(run, x, out, reps):
    t = time.perf_counter()
    run(x, out, reps)
    return time.perf_counter() - t


def timings(rounds):
    """Best ns per element of every function and vector length (rounds interleaved)."""
    rng = np.random.default_rng(0)
    best = {}
    for n in LENGTHS:
        x64 = rng.normal(scale=2.0, size=n)  # pre-activations of the typical size
        reps = max(1, ELEMENTS // n)
        arrays = {np.float64: x64, np.float32: x64.astype(np.float32)}
        for run, dt in FUNCS.values():
            run(arrays[dt], np.empty_like(arrays[dt]), 1)  # compile
        for _ in range(rounds):
            for name, (run, dt) in FUNCS.items():
                x = arrays[dt]
                s = _time(run, x, np.empty_like(x), reps)
                key = (name, n)
                best[key] = min(best.get(key, math.inf), s / (reps * n) * 1e9)
            out = np.empty_like(x64)
            t = time.perf_counter()
            for _ in range(reps):
                np.tanh(x64, out=out)
            s = time.perf_counter() - t
            key = ("float64 np.tanh (NumPy, peer)", n)
            best[key] = min(best.get(key, math.inf), s / (reps * n) * 1e9)
    return best


def _sweep(points):
    mags = np.geomspace(5e-324, 1e300, points // 8)
    x = np.concatenate([np.linspace(-40, 40, points // 2 + 1), mags])
    return np.concatenate([x, -x])


def _ulps(y, want):
    spacing = np.spacing(np.abs(want.astype(np.float64))).astype(np.longdouble)
    return np.abs((y.astype(np.longdouble) - want) / spacing).astype(np.float64)


def accuracy(points):
    """Max and mean ulp error of old and new float64 tanh/sigmoid over the sweep."""
    x = _sweep(points)
    xl = x.astype(np.longdouble)
    with np.errstate(over="ignore"):
        refs = {"tanh": np.tanh(xl), "sigmoid": 1 / (1 + np.exp(-xl))}
    rows = []
    for name, (run, dt) in FUNCS.items():
        if dt is not np.float64:
            continue
        out = np.empty_like(x)
        run(x, out, 1)
        u = _ulps(out, refs["tanh" if "tanh" in name else "sigmoid"])
        normal = np.abs(out) >= np.finfo(np.float64).tiny
        rows.append((name, u.max(), u[normal].max(), u.mean()))
    return len(x), rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--points", type=int, default=4_000_000, help="size of the accuracy sweep")
    args = ap.parse_args(argv)
    print(f"numba {numba.__version__}, numpy {np.__version__}")
    best = timings(args.rounds)
    names = list(dict.fromkeys(k[0] for k in best))
    print("\n| ns per element | " + " | ".join(f"n = {n}" for n in LENGTHS) + " |")
    print("|---|" + "---|" * len(LENGTHS))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{best[name, n]:.2f}" for n in LENGTHS) + " |")
    n, rows = accuracy(args.points)
    print(f"\nulp error against long double over {n} points")
    print("\n| function | max ulp | max ulp, normal results | mean ulp |\n|---|---|---|---|")
    for name, mx, mxn, mean in rows:
        print(f"| {name} | {mx:.3g} | {mxn:.3g} | {mean:.3f} |")


if __name__ == "__main__":
    main()
