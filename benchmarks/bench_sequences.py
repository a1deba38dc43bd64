"""Variable-length batches: masking alone against masking with length-bucketing.

The kernels run each chunk of a batch to its longest sequence and hold the
finished ones (masking).  ``Network`` also sorts a variable-length batch by
length before cutting it into chunks (bucketing), so a chunk's sequences are
of similar lengths.  This times forward and forward+BPTT calls on sequences of
7-29 steps (the spread of JapaneseVowels) three ways: bucketing on, bucketing
off (chunks of random lengths), and every sequence padded to the longest as a
fixed-length batch (what a user without variable lengths would run), with the
fixed-length cost of the same number of real steps as the floor.

    python benchmarks/bench_sequences.py [--cell lstm] [--hidden 32] [--reps 15]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tsrnn._engine import sequences
from tsrnn.nn import Network


def _best(f, reps, inner):
    f()
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(inner):
            f()
        best = min(best, (time.perf_counter() - t) / inner)
    return best * 1e3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", default="lstm")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--channels", type=int, default=12)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--inner", type=int, default=10)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    lens = rng.integers(7, 30, size=args.n)
    T = int(lens.max())
    X = np.zeros((args.n, T, args.channels), np.float32)
    for i, k in enumerate(lens):
        X[i, :k] = rng.normal(size=(k, args.channels))
    y = rng.integers(0, 9, size=args.n)
    net = Network(args.cell, input_size=args.channels, hidden_size=args.hidden, output_size=9,
                  random_state=0)
    mean_T = int(round(lens.mean()))
    Xmean = np.ascontiguousarray(X[:, :mean_T])

    def calls(Xb, lengths):
        return (lambda: net.forward(Xb, lengths=lengths),
                lambda: net.loss_grad(Xb, y, "cross_entropy", lengths=lengths))

    real = sequences.bucket_order
    rows = {}
    # interleaved, so that the machine's drift touches every variant alike
    for _ in range(3):
        for name in ("bucketing", "masking only", "padded, fixed length", "floor"):
            sequences.bucket_order = real if name == "bucketing" else (lambda lengths: None)
            if name in ("bucketing", "masking only"):
                f, g = calls(X, lens)
            elif name == "padded, fixed length":
                f, g = calls(X, None)
            else:
                f, g = calls(Xmean, None)
            fw, bw = _best(f, args.reps, args.inner), _best(g, args.reps, args.inner)
            old = rows.get(name, (np.inf, np.inf))
            rows[name] = (min(old[0], fw), min(old[1], bw))
    sequences.bucket_order = real
    print(f"{args.cell} H={args.hidden} C={args.channels}, {args.n} sequences of "
          f"{lens.min()}-{lens.max()} steps (mean {lens.mean():.1f}), float32, one thread")
    print(f"{'variant':<24}{'forward ms':>12}{'loss_grad ms':>14}")
    for name, (fw, bw) in rows.items():
        label = f"floor (all {mean_T} steps)" if name == "floor" else name
        print(f"{label:<24}{fw:>12.2f}{bw:>14.2f}")


if __name__ == "__main__":
    main()
