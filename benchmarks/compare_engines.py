"""Two tsrnn checkouts' engines timed in turn, config by config: a before/after that survives drift.

This shared machine's speed drifts by 20 % and more within an hour, so a grid
timed with one checkout and then again with another compares the machine as much
as the code.  Here every configuration of ``bench_engine.py``'s grid is timed
in fresh processes, alternating the checkouts (A B A B ...), and each side's
best time is kept; the ratio B/A (above 1: B is slower) is per configuration.

What is timed is ``bench_engine.py``'s tsrnn part: one training epoch
(``Network._loss_grad`` + ``Adam.step`` per minibatch over 4096 windows) and one
inference pass over the same windows, ``n_jobs`` threads, BLAS at ``n_jobs``.
The two checkouts must both offer ``tsrnn.nn.Network._loss_grad`` and Adam as
``tsrnn._engine.optim.Adam`` or ``tsrnn._optim.Adam``.

Usage::

    python benchmarks/compare_engines.py /path/to/old/checkout /path/to/new/checkout \\
        --out compare.md --json compare.json [--rounds 2] [--quick | --steps 24] \\
        [--cache-a DIR --cache-b DIR]
    # then time the configurations that looked slower again, with more turns
    python benchmarks/compare_engines.py OLD NEW --recheck compare.json --rounds 5 ...

The first timing of each cell and dtype compiles (not timed: every timing
starts with an untimed batch); warm caches save that time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, sys, time
import numpy as np
import scipy.linalg  # both checkouts: the same BLAS loaded before the first kernel
from threadpoolctl import threadpool_limits
from tsrnn.nn import Network
try:
    from tsrnn._engine.optim import Adam
except ImportError:
    from tsrnn._optim import Adam
cell, H, T, C, B, dt, k, budget = sys.argv[1:9]
H, T, C, B, k, budget = int(H), int(T), int(C), int(B), int(k), float(budget)
dt = np.dtype(dt).type
rng = np.random.default_rng(0)
X = rng.standard_normal((4096, T, C)).astype(dt)
Y = (0.5 * X[:, -1, :1] + 0.1 * rng.standard_normal((4096, 1))).astype(dt)
Xb = [X[s:s + B] for s in range(0, 4096, B)]
Yb = [Y[s:s + B] for s in range(0, 4096, B)]
net = Network(cell, input_size=C, hidden_size=H, dtype=dt, random_state=0)
opt = Adam(net.n_params, learning_rate=1e-3, dtype=dt)

def train(nb=None):
    for xb, yb in zip(Xb[:nb], Yb[:nb]):
        _, g, _ = net._loss_grad(xb, yb, "squared_error", n_jobs=k)
        opt.step(net.params, g)

def infer(nb=None):
    for xb in Xb[:nb]:
        net.forward(xb, n_jobs=k)

def best(fn):
    fn(1)
    times, spent = [], 0.0
    while len(times) < 5 and (not times or spent + min(times) <= budget):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
        spent += times[-1]
    return min(times)

with threadpool_limits(limits=k, user_api="blas"):
    print(json.dumps({"train": best(train), "infer": best(infer)}))
"""


def measure(checkout, cfg, threads, budget, cache):
    env = dict(os.environ, PYTHONPATH=checkout, NUMBA_CACHE_DIR=cache)
    cell, H, T, C, B, dt = cfg
    out = subprocess.run([sys.executable, "-c", _CHILD, cell, str(H), str(T), str(C), str(B), dt,
                          str(threads), str(budget)], env=env, capture_output=True, text=True,
                         check=True, cwd=tempfile.gettempdir())
    return json.loads(out.stdout.strip().splitlines()[-1])


def geo(values):
    return math.exp(sum(map(math.log, values)) / len(values))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", help="the checkout timed as A (before)")
    ap.add_argument("b", help="the checkout timed as B (after)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="A B turns per configuration")
    ap.add_argument("--budget", type=float, default=1.5, help="seconds of repeats per timing")
    ap.add_argument("--quick", action="store_true", help="float32, hidden 16/256, T 24, C 1")
    ap.add_argument("--steps", type=int, nargs="+", default=[24, 96],
                    help="sequence lengths T of the full grid")
    ap.add_argument("--cache-a", help="NUMBA_CACHE_DIR for A (default: a fresh one)")
    ap.add_argument("--cache-b", help="NUMBA_CACHE_DIR for B (default: a fresh one)")
    ap.add_argument("--recheck", metavar="JSON",
                    help="time again only the configurations of an earlier --json run whose "
                         "train or infer ratio exceeded --over")
    ap.add_argument("--over", type=float, default=1.05)
    ap.add_argument("--out")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    if args.quick:
        grid = list(itertools.product(["rnn", "lstm", "gru"], [16, 256], [24], [1], [32, 256],
                                      ["float32"]))
    else:
        grid = list(itertools.product(["rnn", "lstm", "gru"], [16, 64, 256], args.steps, [1, 8],
                                      [32, 256], ["float32", "float64"]))
    if args.recheck:
        with open(args.recheck) as f:
            grid = [(r["cell"], r["hidden"], r["T"], r["C"], r["batch"], r["dtype"])
                    for r in json.load(f)
                    if max(r["train_ratio"], r["infer_ratio"]) > args.over]
    caches = {side: getattr(args, f"cache_{side}") or tempfile.mkdtemp(prefix=f"tsrnn_cmp_{side}_")
              for side in "ab"}
    rows = []
    print(f"{len(grid)} configurations, {args.rounds} rounds, threads {args.threads}",
          flush=True)
    for cfg in grid:
        best = {"a": {}, "b": {}}
        for _ in range(args.rounds):
            for side, path in (("a", args.a), ("b", args.b)):
                r = measure(path, cfg, args.threads, args.budget, caches[side])
                for phase, t in r.items():
                    best[side][phase] = min(t, best[side].get(phase, math.inf))
        row = {"cell": cfg[0], "hidden": cfg[1], "T": cfg[2], "C": cfg[3], "batch": cfg[4],
               "dtype": cfg[5], **{f"{p}_{s}": best[s][p] for s in "ab" for p in best[s]}}
        for phase in ("train", "infer"):
            row[f"{phase}_ratio"] = row[f"{phase}_b"] / row[f"{phase}_a"]
        rows.append(row)
        print(f"{cfg}: train {row['train_a']:.4f} -> {row['train_b']:.4f} "
              f"({row['train_ratio']:.3f}x), infer {row['infer_a']:.4f} -> {row['infer_b']:.4f} "
              f"({row['infer_ratio']:.3f}x)", flush=True)
    lines = ["| cell | dtype | train B/A geo-mean (min-max) | infer B/A geo-mean (min-max) | "
             "configs over 1.05 (train, infer) |", "|---|---|---|---|---|"]
    for cell, dt in itertools.product(["rnn", "lstm", "gru"], ["float32", "float64"]):
        sub = [r for r in rows if r["cell"] == cell and r["dtype"] == dt]
        if not sub:
            continue
        cols = []
        for phase in ("train", "infer"):
            v = [r[f"{phase}_ratio"] for r in sub]
            cols.append(f"{geo(v):.3f} ({min(v):.2f}-{max(v):.2f})")
        over = [sum(r[f"{p}_ratio"] > 1.05 for r in sub) for p in ("train", "infer")]
        lines.append(f"| {cell} | {dt} | {cols[0]} | {cols[1]} | {over[0]}, {over[1]} of "
                     f"{len(sub)} |")
    allv = {p: [r[f"{p}_ratio"] for r in rows] for p in ("train", "infer")}
    lines.append(f"| all | | {geo(allv['train']):.3f} | {geo(allv['infer']):.3f} | "
                 f"{sum(v > 1.05 for v in allv['train'])}, "
                 f"{sum(v > 1.05 for v in allv['infer'])} of {len(rows)} |")
    print("\n".join(lines))
    if args.out:
        slow = sorted(rows, key=lambda r: -max(r["train_ratio"], r["infer_ratio"]))
        extra = ["", "Configurations over 1.05 (time B / time A):", ""] + [
            f"- {r['cell']} {r['dtype']} H={r['hidden']} T={r['T']} C={r['C']} B={r['batch']}: "
            f"train {r['train_ratio']:.3f}, infer {r['infer_ratio']:.3f} "
            f"(A {r['train_a']:.4f}/{r['infer_a']:.4f} s, B {r['train_b']:.4f}/"
            f"{r['infer_b']:.4f} s)"
            for r in slow if max(r["train_ratio"], r["infer_ratio"]) > 1.05]
        with open(args.out, "w") as f:
            f.write("\n".join(lines + extra) + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
