"""Forecast accuracy on the bundled datasets: RNNForecaster against seasonal naive and Ridge.

For each bundled dataset (one representative target, a natural horizon and
seasonal period ``m``), a rolling-origin backtest (:func:`tsrnn.model_selection.backtest`):
the first 70 % of the observations train, then forecasts of ``horizon`` steps
are made from every ``horizon``-th origin of the remaining 30 % (one fit,
``refit=False``). Reported: MASE (scaled by the in-sample seasonal-naive error
of the training part, period ``m``) of

- ``RNNForecaster(horizon=h, random_state=seed)`` with default parameters
  (``cell="lstm"``), and the same with ``cell="gru"`` and ``cell="rnn"``;
- ``seasonal naive`` (the value one period earlier) and ``naive`` (the last value);
- ``ridge``: scikit-learn ``Ridge`` (alpha=1, standardised inputs) on the same
  24 lags, one output per step (direct multi-output), fitted on the windows
  whose targets lie in the training part, inputs forward-filled like the
  forecaster's, at the same origins;

plus the fit and backtest (forecasting) time of the RNNs and the empirical
coverage of their 90 % split-conformal intervals. Mean ± std over seeds.

Usage::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_accuracy.py --seeds 3 --out accuracy.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tsrnn import RNNForecaster, datasets
from tsrnn.metrics import mase
from tsrnn.model_selection import backtest
from tsrnn.windowing import make_windows

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import emit  # noqa: E402

# name: (loader of the target series, horizon, seasonal period m, regular frequency)
CASES = {
    "weather temp_max (daily)": (lambda: datasets.load_weather()["temp_max"], 7, 7, "D"),
    "co2 (weekly)": (lambda: datasets.load_co2()["co2"], 12, 52, "W-SAT"),
    "sea temperature (30 min)": (
        lambda: datasets.load_sea_temperature()["temperature"], 48, 48, "30min"),
    "stocks MSFT adj_close (trading days)": (lambda: datasets.load_stocks()["MSFT"], 5, 5, None),
}
INITIAL = 0.7


def ridge_mase(y, horizon, m, freq, result, lags=24):
    """MASE of a direct multi-output Ridge on the same lags, at the backtest's origins."""
    raw = y.asfreq(freq) if freq else y
    n = len(raw)
    initial = int(INITIAL * n)
    frame = pd.DataFrame({"x": raw.ffill(), "target": raw})
    X, _ = make_windows(frame, target="x", lags=lags, horizon=horizon, dropna=False)
    _, Y = make_windows(frame, target="target", lags=lags, horizon=horizon, dropna=False)
    pos = raw.index.get_indexer(X.index)
    train = (pos + horizon <= initial - 1) & X.notna().all(axis=1).to_numpy() \
        & Y.notna().all(axis=1).to_numpy()
    t0 = time.perf_counter()
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X[train], Y[train])
    fit = time.perf_counter() - t0
    f = result.forecasts
    origins = f["origin"].unique()
    pred = model.predict(X.loc[origins]).ravel()
    ok = f[["actual", "forecast", "naive", "seasonal_naive"]].notna().all(axis=1).to_numpy()
    score = mase(f["actual"].to_numpy()[ok], pred[ok], y_train=raw.to_numpy()[:initial], m=m)
    return score, fit


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    for name, (load, horizon, m, freq) in CASES.items():
        y = load()
        scores = {}
        for cell in ("lstm", "gru", "rnn"):
            runs = []
            for seed in range(args.seeds):
                fc = RNNForecaster(horizon=horizon, random_state=seed,
                                   estimator=RNNForecaster.default_estimator(cell=cell))
                r = backtest(fc, y, initial=INITIAL, m=m, coverage=0.9)
                runs.append((r.summary.loc["mase", "forecaster"], r.fit_time, r.predict_time,
                             r.summary.loc["coverage", "forecaster"]))
            scores[cell] = np.array(runs)
        base = r.summary
        ridge, ridge_fit = ridge_mase(y, horizon, m, freq, r)
        n_origins = r.forecasts["origin"].nunique()
        rows.append((name, len(y), horizon, m, n_origins, scores, base, ridge, ridge_fit))
        print(name, "done", flush=True)

    lines = [
        f"MASE (lower is better; mean ± std over {args.seeds} seeds), rolling origin over the last "
        f"{100 - int(100 * INITIAL)} %, one fit:",
        "",
        "| dataset | n | h | m | origins | **default (lstm)** | gru | rnn | seasonal naive | naive "
        "| ridge (24 lags) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, n, h, m, n_o, scores, base, ridge, _ in rows:
        cells = [f"{s[:, 0].mean():.3f} ± {s[:, 0].std():.3f}" for s in scores.values()]
        cells[0] = f"**{cells[0]}**"
        lines.append(f"| {name} | {n} | {h} | {m} | {n_o} | {' | '.join(cells)} | "
                     f"{base.loc['mase', 'seasonal_naive']:.3f} | {base.loc['mase', 'naive']:.3f} | "
                     f"{ridge:.3f} |")
    lines += [
        "",
        "Fit and backtest time (seconds, mean over seeds; 2 threads) and empirical coverage of "
        "the 90 % intervals on the backtest:",
        "",
        "| dataset | lstm fit | lstm backtest | gru fit | rnn fit | ridge fit | 90 % coverage "
        "(lstm / gru / rnn) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, _, _, _, _, scores, _, _, ridge_fit in rows:
        s = scores
        lines.append(
            f"| {name} | {s['lstm'][:, 1].mean():.2f} | {s['lstm'][:, 2].mean():.3f} | "
            f"{s['gru'][:, 1].mean():.2f} | {s['rnn'][:, 1].mean():.2f} | {ridge_fit:.3f} | "
            + " / ".join(f"{s[c][:, 3].mean():.2f}" for c in ("lstm", "gru", "rnn")) + " |"
        )
    emit(lines, args.out)


if __name__ == "__main__":
    main()
