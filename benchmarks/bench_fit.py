"""RNNRegressor.fit against a plain PyTorch loop, a bare engine loop and MLPRegressor.

Data: the bundled Seattle daily weather (NOAA): windows of T = 30 days of the
4 numeric channels, target the next day's temp_max; the first 80 % of the
windows (in time order) train, the last 20 % test.  Every model trains for
the same fixed number of epochs (no early stopping) with Adam, learning rate
3e-3, batch 32, on inputs and target standardised with training statistics;
the test RMSE is reported in degrees C.

- ``tsrnn``: ``RNNRegressor(...).fit`` (the estimator layer included);
- ``engine``: the same network trained by a bare loop over
  ``Network._kernel_loss_grad`` + ``Adam.step`` on pre-scaled arrays, to measure
  what the estimator adds on top of the engine (target: under 10 %);
- ``torch``: ``nn.LSTM``/``nn.GRU``/``nn.RNN`` + ``nn.Linear``, ``MSELoss``,
  ``torch.optim.Adam``, same batches and threads;
- ``mlp``: scikit-learn's ``MLPRegressor`` (one hidden layer of the same width)
  on the flattened windows, the non-recurrent baseline.

Usage::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_fit.py --out fit.md
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from tsrnn import RNNRegressor
from tsrnn._engine import threads as engine_threads
from tsrnn._engine.optim import Adam
from tsrnn._engine.plan import Workspace
from tsrnn._resources import data_file
from tsrnn.nn import Network

CHANNELS = ["precipitation", "temp_max", "temp_min", "wind"]


def load(T):
    df = pd.read_csv(data_file("seattle_weather_daily.csv"), parse_dates=["date"])
    v = df[CHANNELS].to_numpy(np.float64)
    X = np.lib.stride_tricks.sliding_window_view(v[:-1], T, axis=0).transpose(0, 2, 1)
    y = v[T:, CHANNELS.index("temp_max")]
    n_train = int(0.8 * len(X))
    return np.ascontiguousarray(X[:n_train]), y[:n_train], np.ascontiguousarray(X[n_train:]), y[n_train:]


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a).ravel() - b) ** 2)))


def run_tsrnn(cell, H, epochs, Xtr, ytr, Xte, yte, threads):
    reg = RNNRegressor(cell=cell, hidden_size=H, max_iter=epochs, learning_rate_init=3e-3,
                       batch_size=32, tol=0.0, n_iter_no_change=epochs + 1, random_state=0,
                       n_jobs=threads)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(Xtr, ytr)
    return time.perf_counter() - t, rmse(reg.predict(Xte), yte)


def run_engine(cell, H, epochs, Xtr, ytr, Xte, yte, threads):
    mx, sx = Xtr.mean(axis=(0, 1)), Xtr.std(axis=(0, 1))
    my, sy = ytr.mean(), ytr.std()
    X = ((Xtr - mx) / sx).astype(np.float32)
    Y = ((ytr - my) / sy).astype(np.float32).reshape(-1, 1, 1)
    net = Network(cell, input_size=X.shape[2], hidden_size=H, random_state=0)
    opt = Adam(net.n_params, learning_rate=3e-3, decay_mask=net.weight_mask, dtype=np.float32)
    rng = np.random.RandomState(0)
    qs = np.empty(0, np.float32)
    work = Workspace()  # the trainer's scratch, reused batch after batch
    t = time.perf_counter()
    with engine_threads.blas_single_thread():
        for _ in range(epochs):
            order = rng.permutation(len(X))
            for s in range(0, len(X), 32):
                idx = order[s:s + 32]
                _, g, _ = net._kernel_loss_grad(X[idx], Y[idx], np.ones(len(idx), np.float32),
                                                0, qs, 1.0, False, X.shape[1],
                                                n_threads=threads, workspace=work)
                opt.step(net.params, g)
    elapsed = time.perf_counter() - t
    pred = net.forward(((Xte - mx) / sx).astype(np.float32))[:, 0] * sy + my
    return elapsed, rmse(pred, yte)


def run_torch(cell, H, epochs, Xtr, ytr, Xte, yte, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    mx, sx = Xtr.mean(axis=(0, 1)), Xtr.std(axis=(0, 1))
    my, sy = ytr.mean(), ytr.std()
    X = torch.from_numpy(((Xtr - mx) / sx).astype(np.float32))
    Y = torch.from_numpy(((ytr - my) / sy).astype(np.float32)).reshape(-1, 1)
    mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = mod(X.shape[2], H, 1, batch_first=True)
            self.head = torch.nn.Linear(H, 1)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss_fn = torch.nn.MSELoss()
    rng = np.random.RandomState(0)
    t = time.perf_counter()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(X)))
        for s in range(0, len(X), 32):
            idx = order[s:s + 32]
            opt.zero_grad()
            loss_fn(net(X[idx]), Y[idx]).backward()
            opt.step()
    elapsed = time.perf_counter() - t
    with torch.inference_mode():
        pred = net(torch.from_numpy(((Xte - mx) / sx).astype(np.float32))).numpy()[:, 0]
    return elapsed, rmse(pred * sy + my, yte)


def run_mlp(H, epochs, Xtr, ytr, Xte, yte):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mlp = TransformedTargetRegressor(
        regressor=make_pipeline(StandardScaler(), MLPRegressor(
            hidden_layer_sizes=(H,), learning_rate_init=3e-3, batch_size=32, max_iter=epochs,
            tol=0.0, n_iter_no_change=epochs + 1, random_state=0)),
        transformer=StandardScaler())
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(Xtr.reshape(len(Xtr), -1), ytr)
    return time.perf_counter() - t, rmse(mlp.predict(Xte.reshape(len(Xte), -1)), yte)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--window", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cells", default="lstm,gru,rnn")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    Xtr, ytr, Xte, yte = load(args.window)
    E, H, k = args.epochs, args.hidden, args.threads
    naive = rmse(Xte[:, -1, CHANNELS.index("temp_max")], yte)
    lines = [
        "| model | fit seconds | test RMSE (degC) | estimator overhead vs engine |",
        "|---|---|---|---|",
    ]
    for cell in args.cells.split(","):
        run_tsrnn(cell, H, 1, Xtr[:64], ytr[:64], Xte, yte, k)  # compile / warm up
        run_engine(cell, H, 1, Xtr[:64], ytr[:64], Xte, yte, k)
        te, re = min((run_engine(cell, H, E, Xtr, ytr, Xte, yte, k) for _ in range(3)),
                     key=lambda r: r[0])
        tt, rt = min((run_tsrnn(cell, H, E, Xtr, ytr, Xte, yte, k) for _ in range(3)),
                     key=lambda r: r[0])
        lines.append(f"| tsrnn RNNRegressor({cell}) | {tt:.3f} | {rt:.3f} | {100 * (tt / te - 1):+.1f} % |")
        lines.append(f"| tsrnn engine loop ({cell}) | {te:.3f} | {re:.3f} | |")
        try:
            run_torch(cell, H, 1, Xtr[:64], ytr[:64], Xte, yte, k)
            tp, rp = min((run_torch(cell, H, E, Xtr, ytr, Xte, yte, k) for _ in range(2)),
                         key=lambda r: r[0])
            lines.append(f"| PyTorch loop ({cell}) | {tp:.3f} | {rp:.3f} | |")
        except ImportError:
            lines.append(f"| PyTorch loop ({cell}) | not installed | | |")
    tm, rm = run_mlp(H, E, Xtr, ytr, Xte, yte)
    lines.append(f"| MLPRegressor({H},) on flattened windows | {tm:.3f} | {rm:.3f} | |")
    lines.append(f"| persistence (tomorrow = today) | - | {naive:.3f} | |")
    head = (f"Seattle weather, {len(Xtr)} training / {len(Xte)} test windows of {args.window} days x "
            f"4 channels; hidden {H}, {E} epochs, Adam 3e-3, batch 32, {k} threads, float32.")
    report = head + "\n\n" + "\n".join(lines) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
