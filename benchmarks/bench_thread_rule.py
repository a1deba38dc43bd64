"""Serial against pooled, per configuration: the measurement behind the engine's thread rule.

For every batch-32 configuration of cell x hidden 16/64 x T 24/96 x C 1/8 x dtype (and a few
at batch 256), one training epoch (``Network._loss_grad`` + Adam over 2048 windows) and one
inference pass are timed with the pool forced on (``_POOL_MIN_WORK = 0``) and forced off,
alternating, best of 6.  Printed: serial time / pooled time (above 1: two threads win).
``tsrnn/_engine/launch.py``'s ``_POOL_MIN_WORK`` and ``_ELEMENTWISE_WORK`` put the
crossover between the configurations that lose and those that gain.

Usage::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_thread_rule.py
"""

from __future__ import annotations

import json
import time

import numpy as np
import scipy.linalg  # noqa: F401  (the BLAS the kernels use, loaded first)
from threadpoolctl import threadpool_limits

from tsrnn._engine import launch as nw
from tsrnn._engine.optim import Adam
from tsrnn.nn import Network


def run(cell, H, T, C, B, dtn, rounds=6):
    dt = np.dtype(dtn).type
    rng = np.random.default_rng(0)
    N = 2048
    X = rng.standard_normal((N, T, C)).astype(dt)
    Y = (0.5 * X[:, -1, :1]).astype(dt)
    Xb = [X[s:s + B] for s in range(0, N, B)]
    Yb = [Y[s:s + B] for s in range(0, N, B)]
    net = Network(cell, input_size=C, hidden_size=H, dtype=dt, random_state=0)
    opt = Adam(net.n_params, learning_rate=1e-3, dtype=dt)

    def train(nb=None):
        for xb, yb in zip(Xb[:nb], Yb[:nb]):
            _, g, _ = net._loss_grad(xb, yb, "squared_error", n_jobs=2)
            opt.step(net.params, g)

    def infer(nb=None):
        for xb in Xb[:nb]:
            net.forward(xb, n_jobs=2)

    res = {}
    saved = nw._POOL_MIN_WORK
    try:
        for what, fn in (("train", train), ("infer", infer)):
            best = {"pool": np.inf, "serial": np.inf}
            for _ in range(rounds):
                for mode, limit in (("pool", 0), ("serial", 10**18)):
                    nw._POOL_MIN_WORK = limit
                    fn(1)
                    t0 = time.perf_counter()
                    fn()
                    best[mode] = min(best[mode], time.perf_counter() - t0)
            res[what] = best["serial"] / best["pool"]
    finally:
        nw._POOL_MIN_WORK = saved
    return res


def main():
    cfgs = [(c, H, T, C, 32, d) for c in ("rnn", "gru", "lstm") for H in (16, 64)
            for T in (24, 96) for C in (1, 8) for d in ("float32", "float64")]
    cfgs += [("rnn", 16, T, 1, 256, d) for T in (24, 96) for d in ("float32", "float64")]
    with threadpool_limits(limits=2, user_api="blas"):
        for cfg in cfgs:
            r = run(*cfg)
            work = Network(cfg[0], input_size=cfg[3], hidden_size=cfg[1],
                           dtype=np.dtype(cfg[5]).type)._step_work(16)
            print(json.dumps({"cfg": cfg, "step_work_per_thread": work,
                              "serial_over_pool": r}), flush=True)


if __name__ == "__main__":
    main()
