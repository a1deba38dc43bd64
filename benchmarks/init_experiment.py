"""Does the initialisation matter?  ``init="pytorch"`` vs ``init="orthogonal"`` on real data.

Data: ``datasets/seattle_weather_daily.csv`` (NOAA daily weather, Seattle,
2012-2015).  The 4 numeric columns (precipitation, temp_max, temp_min, wind)
are standardised with the statistics of the training period; each sample is a
window of T = 30 days of the 4 channels and its target the next day's
(standardised) temp_max.  Windows are split chronologically, the first 80% for
training and the last 20% for validation.

For each cell (rnn, lstm, gru), hidden size 32, each initialisation and each of
5 seeds, a ``Network`` is trained for 30 epochs with Adam (learning rate 3e-3,
batch 32, shuffled each epoch with a NumPy generator seeded by the seed) by a
minimal loop over ``Network._loss_grad`` + ``Adam.step``; the validation MSE is
recorded after every epoch.  The seed fixes both the initial weights and the
batch order, so the two inits see the same batches.

Reported per cell and init, mean +- std over seeds: the final and the best
validation MSE, and the first epoch whose validation MSE is within 5% of that
run's best.  MSEs are in standardised units of temp_max (1.0 = predicting the
training mean); the persistence forecast (tomorrow = today) is shown for scale.

Usage::

    NUMBA_CACHE_DIR=/tmp/nbcache_bench python benchmarks/init_experiment.py --out init.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd

from tsrnn._engine.optim import Adam
from tsrnn.nn import Network

COLUMNS = ["precipitation", "temp_max", "temp_min", "wind"]
TARGET = "temp_max"
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets",
                            "seattle_weather_daily.csv")


def load_windows(path, T, train_frac, dtype):
    """(X_train, y_train, X_val, y_val, persistence_mse) from the daily CSV."""
    df = pd.read_csv(path, parse_dates=["date"]).sort_values("date")
    values = df[COLUMNS].to_numpy(np.float64)
    n_windows = len(values) - T
    n_train = int(round(train_frac * n_windows))
    # Training statistics: the rows the training windows and their targets cover.
    train_rows = values[:n_train + T]
    mean, std = train_rows.mean(axis=0), train_rows.std(axis=0)
    z = (values - mean) / std
    idx = np.arange(T)[None, :] + np.arange(n_windows)[:, None]
    X = z[idx]  # (n_windows, T, 4)
    ti = COLUMNS.index(TARGET)
    y = z[T:, ti]
    X = np.ascontiguousarray(X, dtype=dtype)
    y = np.ascontiguousarray(y, dtype=dtype)
    persistence = float(np.mean((X[n_train:, -1, ti] - y[n_train:]) ** 2))
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:], persistence


def train_one(cell, init, seed, data, args):
    Xtr, ytr, Xva, yva = data
    dtype = Xtr.dtype.type
    net = Network(cell, input_size=Xtr.shape[2], hidden_size=args.hidden, dtype=dtype,
                  random_state=seed, init=init)
    opt = Adam(net.n_params, learning_rate=args.lr, dtype=dtype)
    rng = np.random.default_rng(seed)
    n = len(Xtr)
    val = []
    for _ in range(args.epochs):
        order = rng.permutation(n)
        for s in range(0, n, args.batch):
            b = order[s:s + args.batch]
            _, g, _ = net._loss_grad(Xtr[b], ytr[b], "squared_error", n_jobs=args.n_jobs)
            opt.step(net.params, g)
        pred = net.forward(Xva, n_jobs=args.n_jobs)[:, 0]
        val.append(float(np.mean((pred.astype(np.float64) - yva) ** 2)))
    return val


def summarise(curves):
    """Per-run final, best, epoch-within-5%-of-best (1-based)."""
    out = []
    for v in curves:
        v = np.asarray(v)
        best = v.min()
        within = int(np.argmax(v <= 1.05 * best)) + 1
        out.append((v[-1], best, within, int(np.argmin(v)) + 1))
    return np.array(out)


def ms(a, fmt):
    return f"{format(np.mean(a), fmt)} ± {format(np.std(a, ddof=1) if len(a) > 1 else 0.0, fmt)}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--cells", default="rnn,lstm,gru")
    ap.add_argument("--inits", default="pytorch,orthogonal")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--window", type=int, default=30)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out", help="write a Markdown report to this file")
    ap.add_argument("--json", help="write the per-epoch curves as JSON to this file")
    args = ap.parse_args(argv)

    dtype = getattr(np, args.dtype)
    Xtr, ytr, Xva, yva, persistence = load_windows(args.data, args.window, 0.8, dtype)
    yva64 = yva.astype(np.float64)
    data = (Xtr, ytr, Xva, yva64)
    cells = args.cells.split(",")
    inits = args.inits.split(",")
    seeds = list(range(args.seeds))
    head = [
        "# Initialisation experiment: init='pytorch' vs init='orthogonal'", "",
        f"- data: Seattle daily weather, {len(Xtr)} training / {len(Xva)} validation windows "
        f"(chronological 80/20), T = {args.window} days x {len(COLUMNS)} channels "
        f"({', '.join(COLUMNS)}), target next-day {TARGET}, standardised with training "
        "statistics",
        f"- hidden {args.hidden}, 1 layer, Adam lr {args.lr}, batch {args.batch}, "
        f"{args.epochs} epochs, {args.dtype}, seeds {seeds}, n_jobs {args.n_jobs}",
        f"- validation MSE in standardised units; persistence forecast: {persistence:.4f}; "
        "predicting the training mean: ~1",
    ]
    print("\n".join(head))
    sys.stdout.flush()

    curves = {}
    t0 = time.perf_counter()
    for cell in cells:
        for init in inits:
            runs = []
            for seed in seeds:
                t1 = time.perf_counter()
                v = train_one(cell, init, seed, data, args)
                runs.append(v)
                print(f"{cell:4s} {init:10s} seed {seed}: final {v[-1]:.4f} best {min(v):.4f} "
                      f"({time.perf_counter() - t1:.1f} s)")
                sys.stdout.flush()
            curves[(cell, init)] = runs
    elapsed = time.perf_counter() - t0

    table = ["| cell | init | final val MSE | best val MSE | epoch within 5% of best | "
             "epoch of best |", "|---|---|---|---|---|---|"]
    stats = {}
    for (cell, init), runs in curves.items():
        s = summarise(runs)
        stats[(cell, init)] = s
        table.append(f"| {cell} | {init} | {ms(s[:, 0], '.4f')} | {ms(s[:, 1], '.4f')} | "
                     f"{ms(s[:, 2], '.1f')} | {ms(s[:, 3], '.1f')} |")
    # Mean curves, every 5 epochs.
    ep = [e for e in range(1, args.epochs + 1) if e == 1 or e % 5 == 0]
    curve_tab = ["| cell | init | " + " | ".join(f"ep {e}" for e in ep) + " |",
                 "|---|---|" + "---|" * len(ep)]
    for (cell, init), runs in curves.items():
        m = np.mean(runs, axis=0)
        curve_tab.append(f"| {cell} | {init} | " + " | ".join(f"{m[e - 1]:.4f}" for e in ep)
                         + " |")
    # Paired comparison per cell (same seeds -> same batch order): difference of best MSE.
    paired = []
    if len(inits) == 2:
        a, b = inits
        for cell in cells:
            d = stats[(cell, b)][:, 1] - stats[(cell, a)][:, 1]
            df = stats[(cell, b)][:, 0] - stats[(cell, a)][:, 0]
            se = np.std(d, ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
            paired.append(f"- {cell}: best MSE {b} - {a} = {np.mean(d):+.4f} (paired SE "
                          f"{se:.4f}, {int(np.sum(d < 0))}/{len(d)} seeds favour {b}); final "
                          f"MSE difference {np.mean(df):+.4f}")
    text = (head + ["", f"Total training time {elapsed:.0f} s.", "",
                    "## Validation MSE (mean ± std over seeds)", ""] + table
            + ["", "## Mean validation MSE by epoch", ""] + curve_tab
            + (["", "## Paired differences (same seed = same batch order)", ""] + paired
               if paired else []))
    print("\n" + "\n".join(text[len(head):]))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(text) + "\n")
        print(f"wrote {args.out}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "persistence_mse": persistence,
                       "curves": {f"{c}/{i}": r for (c, i), r in curves.items()}}, f)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
