"""``python -m tsrnn``: train a small network on bundled real data and show the loss fall.

The demo forecasts tomorrow's maximum temperature in Seattle from the last 30
days of four daily weather measurements (NOAA, bundled), with a one-layer
LSTM trained by Adam.  It is the engine's end-to-end smoke test until the
forecasting front end exists.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from tsrnn._optim import Adam
from tsrnn._resources import data_file
from tsrnn.nn import Network

CHANNELS = ("precipitation", "temp_max", "temp_min", "wind")


def load_weather():
    """The bundled Seattle weather table as (dates, values of ``CHANNELS``)."""
    import pandas as pd

    df = pd.read_csv(data_file("seattle_weather_daily.csv"), parse_dates=["date"])
    return df["date"].to_numpy(), df[list(CHANNELS)].to_numpy(np.float64)


def make_windows(values, lags):
    """Windows of ``lags`` days of every channel -> next day's temp_max."""
    X = np.lib.stride_tricks.sliding_window_view(values[:-1], lags, axis=0)  # (n, C, T)
    X = np.ascontiguousarray(X.transpose(0, 2, 1))
    y = values[lags:, CHANNELS.index("temp_max")]
    return X, y


def main(argv=None):
    """Run the demo; returns the list of (train, validation) losses per epoch."""
    parser = argparse.ArgumentParser(prog="python -m tsrnn", description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm")
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--lags", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    dates, values = load_weather()
    split = int(0.8 * len(values))
    mean, std = values[:split].mean(axis=0), values[:split].std(axis=0)
    X, y = make_windows((values - mean) / std, args.lags)
    n_train = split - args.lags
    Xtr, ytr, Xva, yva = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    t_std = std[CHANNELS.index("temp_max")]

    print(f"Seattle daily weather {str(dates[0])[:10]} .. {str(dates[-1])[:10]}: "
          f"predict tomorrow's temp_max from {args.lags} days of {', '.join(CHANNELS)}")
    print(f"{len(Xtr)} training windows, {len(Xva)} validation windows (the last 20%, in time order)")
    net = Network(args.cell, input_size=len(CHANNELS), hidden_size=args.hidden_size,
                  random_state=args.seed)
    opt = Adam(net.n_params, learning_rate=3e-3, dtype=net.dtype)
    Xtr = Xtr.astype(net.dtype)
    rng = np.random.default_rng(args.seed)
    print(f"{net!r}: {net.n_params} parameters (compiling kernels on first use...)")
    print(f"{'epoch':>5}  {'train MSE':>10}  {'val RMSE (degC)':>15}  {'seconds':>7}")
    history = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(len(Xtr))
        total = 0.0
        for start in range(0, len(order), args.batch_size):
            idx = order[start:start + args.batch_size]
            loss, grad, _ = net._loss_grad(Xtr[idx], ytr[idx], "squared_error")
            opt.step(net.params, grad)
            total += loss * len(idx)
        val = float(np.mean((net.forward(Xva)[:, 0] - yva) ** 2))
        history.append((total / len(Xtr), val))
        print(f"{epoch:>5}  {total / len(Xtr):>10.4f}  {np.sqrt(val) * t_std:>15.3f}  "
              f"{time.perf_counter() - t0:>7.2f}")
    naive = np.sqrt(np.mean((Xva[:, -1, CHANNELS.index("temp_max")] - yva) ** 2)) * t_std
    print(f"persistence forecast (tomorrow = today) val RMSE: {naive:.3f} degC")
    return history


if __name__ == "__main__":
    main()
    sys.exit(0)
