"""Micro-benchmark behind the engine's matmul choices, measured inside ``@numba.njit``.

1. The recurrent step ``gh = h @ W.T`` with h (m, H) and W (G*H, H), G = 4
   (an LSTM): a hand-written triple loop against ``np.dot(h, W.T, out)``
   (which Numba lowers to SciPy's BLAS gemm).  Two loop orders are timed: (a)
   ``dot``-order ``i, g, j`` (reduction over the contiguous rows of W: the
   engine's fastmath policy has no ``reassoc``, so this reduction is not
   vectorised) and (a') ``axpy``-order ``i, j, g`` on a pre-transposed
   W^T (H, G*H) (the inner loop vectorises without reassociation).
2. The input projection of a whole window, X (T, m, C) -> (T*m, G*H): (c) one
   GEMM over all T*m rows, (d) T per-step GEMMs of m rows, and (e) a hand loop
   (for C in {1, 8}).

Each kernel repeats the operation ``reps`` times inside one compiled call so
that the Python dispatch is amortised; the time reported is per operation,
best of a few calls.  BLAS threads are limited to ``--threads`` (default 1:
in the engine each batch chunk runs on one thread, so this is the cost inside
one chunk).

Usage::

    NUMBA_CACHE_DIR=/tmp/nbcache_bench python benchmarks/bench_matmul.py --out matmul.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numba
import numpy as np

try:  # the engine's fastmath flags, so hand loops compile as they would there
    from tsrnn._engine.jit import FASTMATH
except ImportError:  # pragma: no cover
    FASTMATH = {"contract", "nsz", "arcp"}

JIT = dict(fastmath=FASTMATH, error_model="numpy", cache=True, nogil=True)


# ---------------------------------------------------------------- recurrent step
@numba.njit(**JIT)
def rec_loop_dot(h, W, out, reps):
    """(a) out[i, g] = sum_j h[i, j] W[g, j]: i, g, j order (W as stored)."""
    m, H = h.shape
    GH = W.shape[0]
    for _ in range(reps):
        for i in range(m):
            for g in range(GH):
                s = out.dtype.type(0)
                for j in range(H):
                    s += h[i, j] * W[g, j]
                out[i, g] = s
    return out[0, 0]


@numba.njit(**JIT)
def rec_loop_axpy(h, WT, out, reps):
    """(a') out[i, :] += h[i, j] WT[j, :]: i, j, g order on W^T (H, G*H)."""
    m, H = h.shape
    GH = WT.shape[1]
    for _ in range(reps):
        for i in range(m):
            o = out[i]
            o[:] = 0
            for j in range(H):
                a = h[i, j]
                w = WT[j]
                for g in range(GH):
                    o[g] += a * w[g]
    return out[0, 0]


@numba.njit(**JIT)
def rec_blas(h, W, out, reps):
    """(b) np.dot(h, W.T, out)."""
    for _ in range(reps):
        np.dot(h, W.T, out)
    return out[0, 0]


# ---------------------------------------------------------------- input projection
@numba.njit(**JIT)
def proj_one_gemm(X, W, out, reps):
    """(c) one GEMM: (T*m, C) @ W.T -> (T*m, G*H)."""
    T, m, C = X.shape
    X2 = X.reshape(T * m, C)
    O2 = out.reshape(T * m, out.shape[2])
    for _ in range(reps):
        np.dot(X2, W.T, O2)
    return out[0, 0, 0]


@numba.njit(**JIT)
def proj_per_step(X, W, out, reps):
    """(d) T GEMMs of (m, C) @ W.T."""
    T = X.shape[0]
    for _ in range(reps):
        for t in range(T):
            np.dot(X[t], W.T, out[t])
    return out[0, 0, 0]


@numba.njit(**JIT)
def proj_loop(X, WT, out, reps):
    """(e) hand loop: out[r, :] = sum_c X[r, c] WT[c, :], WT = W.T (C, G*H) contiguous."""
    T, m, C = X.shape
    GH = WT.shape[1]
    X2 = X.reshape(T * m, C)
    O2 = out.reshape(T * m, GH)
    for _ in range(reps):
        for r in range(T * m):
            o = O2[r]
            a = X2[r, 0]
            w = WT[0]
            for g in range(GH):
                o[g] = a * w[g]
            for c in range(1, C):
                a = X2[r, c]
                w = WT[c]
                for g in range(GH):
                    o[g] += a * w[g]
    return out[0, 0, 0]


# ---------------------------------------------------------------- timing
def time_kernel(fn, args, flop, min_time=0.02, calls=5):
    """Seconds per operation: calibrate reps so one call takes ``min_time``, best of ``calls``."""
    fn(*args, 1)  # compile / warm
    reps = 1
    while True:
        t0 = time.perf_counter()
        fn(*args, reps)
        dt = time.perf_counter() - t0
        if dt >= min_time or reps >= 1 << 22:
            break
        reps = max(reps * 2, int(reps * min_time / max(dt, 1e-9)))
    best = dt / reps
    for _ in range(calls - 1):
        t0 = time.perf_counter()
        fn(*args, reps)
        best = min(best, (time.perf_counter() - t0) / reps)
    return best, flop / best / 1e9


def fmt_us(s):
    return f"{s * 1e6:.2f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    ap.add_argument("--steps", type=int, default=24, help="T for the input projection")
    ap.add_argument("--gates", type=int, default=4, help="G (4 = LSTM)")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--quick", action="store_true", help="fewer sizes")
    ap.add_argument("--out", help="write a Markdown report to this file")
    args = ap.parse_args(argv)

    from threadpoolctl import threadpool_info, threadpool_limits

    G, T = args.gates, args.steps
    ms = [8, 32, 256]
    Hs = [4, 16, 64, 256] if args.quick else [4, 8, 16, 32, 64, 256]
    Cs = [1, 8]
    dtypes = [getattr(np, d.strip()) for d in args.dtypes.split(",")]
    rng = np.random.default_rng(0)

    import scipy.linalg  # noqa: F401

    blas = [f"{os.path.basename(d['filepath'])} arch={d.get('architecture')}"
            for d in threadpool_info() if d.get("user_api") == "blas"]
    head = [
        "# Matmul micro-benchmark (inside @numba.njit)", "",
        f"- numba {numba.__version__}, numpy {np.__version__}; BLAS: {'; '.join(blas)}",
        f"- OPENBLAS_CORETYPE: {os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
        f"BLAS threads: {args.threads}; fastmath flags: {sorted(FASTMATH)}",
        f"- G = {G} gates; input projection over T = {T} steps", "",
    ]
    print("\n".join(head))
    sys.stdout.flush()

    rec_rows, proj_rows = [], []
    with threadpool_limits(limits=args.threads, user_api="blas"):
        # ---- 1. recurrent step
        hdr = ("| dtype | m | H | (a) loop i,g,j us | (a') loop i,j,g us | (b) np.dot us | "
               "np.dot GFLOP/s | best | np.dot speed-up vs best loop |")
        print("## Recurrent step gh = h @ W.T\n")
        print(hdr)
        print("|" + "---|" * 9)
        for dt in dtypes:
            for m in ms:
                for H in Hs:
                    h = rng.standard_normal((m, H)).astype(dt)
                    W = rng.standard_normal((G * H, H)).astype(dt)
                    WT = np.ascontiguousarray(W.T)
                    out = np.empty((m, G * H), dt)
                    fl = 2 * m * G * H * H
                    ta, _ = time_kernel(rec_loop_dot, (h, W, out), fl)
                    ref = out.copy()
                    ta2, _ = time_kernel(rec_loop_axpy, (h, WT, out), fl)
                    tb, gb = time_kernel(rec_blas, (h, W, out), fl)
                    tol = 1e-3 if dt == np.float32 else 1e-10
                    assert np.allclose(out, ref, rtol=tol, atol=tol * H), "kernels disagree"
                    times = {"loop(a)": ta, "loop(a')": ta2, "np.dot": tb}
                    win = min(times, key=times.get)
                    r = dict(dtype=np.dtype(dt).name, m=m, H=H, loop_dot_s=ta, loop_axpy_s=ta2,
                             blas_s=tb, blas_gflops=gb, winner=win,
                             speedup=min(ta, ta2) / tb)
                    rec_rows.append(r)
                    line = (f"| {r['dtype']} | {m} | {H} | {fmt_us(ta)} | {fmt_us(ta2)} | "
                            f"{fmt_us(tb)} | {gb:.1f} | {win} | {r['speedup']:.2f} |")
                    print(line)
                    sys.stdout.flush()

        # ---- 2. input projection
        hdr2 = ("| dtype | m | H | C | (c) one GEMM us | (d) T GEMMs us | (e) hand loop us | "
                "best | (d)/(c) |")
        print(f"\n## Input projection X (T={T}, m, C) @ W_ih.T\n")
        print(hdr2)
        print("|" + "---|" * 9)
        for dt in dtypes:
            for m in ms:
                for H in Hs:
                    for C in Cs:
                        X = rng.standard_normal((T, m, C)).astype(dt)
                        W = rng.standard_normal((G * H, C)).astype(dt)
                        WT = np.ascontiguousarray(W.T)
                        out = np.empty((T, m, G * H), dt)
                        fl = 2 * T * m * C * G * H
                        tc, _ = time_kernel(proj_one_gemm, (X, W, out), fl)
                        ref = out.copy()
                        td, _ = time_kernel(proj_per_step, (X, W, out), fl)
                        te, _ = time_kernel(proj_loop, (X, WT, out), fl)
                        tol = 1e-4 if dt == np.float32 else 1e-10
                        assert np.allclose(out, ref, rtol=tol, atol=tol), "kernels disagree"
                        times = {"one GEMM": tc, "T GEMMs": td, "hand loop": te}
                        win = min(times, key=times.get)
                        r = dict(dtype=np.dtype(dt).name, m=m, H=H, C=C, T=T, one_gemm_s=tc,
                                 per_step_s=td, loop_s=te, winner=win)
                        proj_rows.append(r)
                        print(f"| {r['dtype']} | {m} | {H} | {C} | {fmt_us(tc)} | {fmt_us(td)} | "
                              f"{fmt_us(te)} | {win} | {td / tc:.2f} |")
                        sys.stdout.flush()

    # ---- summary
    summ = ["", "## Summary", ""]
    for dt in dtypes:
        name = np.dtype(dt).name
        rr = [r for r in rec_rows if r["dtype"] == name]
        loopwins = [(r["m"], r["H"]) for r in rr if r["winner"] != "np.dot"]
        summ.append(f"- {name} recurrent step: np.dot wins {len(rr) - len(loopwins)}/{len(rr)}; "
                    f"a hand loop wins at (m, H) = {loopwins or 'none'}")
        pr = [r for r in proj_rows if r["dtype"] == name]
        counts = {k: sum(r["winner"] == k for r in pr) for k in ("one GEMM", "T GEMMs", "hand loop")}
        summ.append(f"- {name} input projection winners: {counts}; one GEMM vs T GEMMs: "
                    f"median (d)/(c) = {np.median([r['per_step_s'] / r['one_gemm_s'] for r in pr]):.2f}")
    print("\n".join(summ))

    if args.out:
        L = list(head)
        L += ["## Recurrent step gh = h @ W.T (times per step, microseconds)", "", hdr,
              "|" + "---|" * 9]
        for r in rec_rows:
            L.append(f"| {r['dtype']} | {r['m']} | {r['H']} | {fmt_us(r['loop_dot_s'])} | "
                     f"{fmt_us(r['loop_axpy_s'])} | {fmt_us(r['blas_s'])} | "
                     f"{r['blas_gflops']:.1f} | {r['winner']} | {r['speedup']:.2f} |")
        L += ["", f"## Input projection X (T={T}, m, C) @ W_ih.T (microseconds per window)", "",
              hdr2, "|" + "---|" * 9]
        for r in proj_rows:
            L.append(f"| {r['dtype']} | {r['m']} | {r['H']} | {r['C']} | "
                     f"{fmt_us(r['one_gemm_s'])} | {fmt_us(r['per_step_s'])} | "
                     f"{fmt_us(r['loop_s'])} | {r['winner']} | "
                     f"{r['per_step_s'] / r['one_gemm_s']:.2f} |")
        L += summ
        with open(args.out, "w") as f:
            f.write("\n".join(L) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
