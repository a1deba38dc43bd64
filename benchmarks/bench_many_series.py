"""Many series, one global model: fit and forecast time, peak memory, cost per series.

A synthetic long panel (``make_panel``): ``n`` daily series of random lengths 100-300,
each a level, a trend, a weekly season of random amplitude and phase, and Gaussian
noise, ending on one of 30 consecutive days.  One ``RNNForecaster(series_id="id",
horizon=7, lags=28, window_norm="last")`` is fitted on all of them and forecasts them
all; its network is ``default_estimator(hidden_size=16, max_iter=1, batch_size=256,
early_stopping=False)``: one epoch over every window (no cap on the windows per epoch),
the default 10 % of each series' origins held out for the conformal intervals.

Each size runs in a process of its own (``--one N``), so that its peak resident memory
(``resource.getrusage``: the largest the process ever held) is that size's alone.  The
time of the fit and of the forecast is split by stage, with timers wrapped around the
functions that do each stage's work:

- split: the long frame into one Series per series (``panel_series``);
- prepare: each series' checks, grid, missing values (``_prepare_series``);
- windows: each series' window origins and its complete windows (``training_windows``);
- network: the network's fit on the streamed windows (``single.fit_estimator``);
- calibration: each series' forecasts at its calibration origins (``windows.residuals``);
- forecast inputs / forecasts: at predict, each series' history, its future index, and
  the network's forecast (``forecast_inputs``, ``series_forecast``).

Usage (Numba cache warm)::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_many_series.py --sizes 1000 10000 100000
    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_many_series.py --sizes 200   # smoke test

prints one JSON line per size and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from collections import defaultdict

import numpy as np
import pandas as pd

SETTINGS = dict(horizon=7, lags=28, window_norm="last", random_state=0)
NETWORK = dict(hidden_size=16, max_iter=1, batch_size=256, early_stopping=False)


def make_panel(n_series, seed=0, lengths=(100, 300)):
    """Long panel: columns ``id`` and ``y``, a daily DatetimeIndex ``date``.

    Series ``i`` has ``L_i`` ~ U{100..300} observations ending on one of 30 days:
    ``level + trend * t + amplitude * sin(2 pi (t + phase) / 7) + noise``.
    """
    rng = np.random.RandomState(seed)
    n = rng.randint(lengths[0], lengths[1] + 1, n_series)
    level = 10 + 50 * rng.rand(n_series)
    trend = 0.02 * rng.randn(n_series)
    amplitude = 3 * rng.rand(n_series)
    phase = rng.randint(7, size=n_series)
    end = pd.Timestamp("2020-01-30").value // 86_400_000_000_000 - rng.randint(30, size=n_series)
    code = np.repeat(np.arange(n_series), n)
    t = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)  # 0..L_i-1 within each series
    y = level[code] + trend[code] * t + amplitude[code] * np.sin(
        2 * np.pi * (t + phase[code]) / 7) + rng.standard_normal(len(t))
    days = np.repeat(end - n + 1, n) + t
    index = pd.DatetimeIndex(days.astype("datetime64[D]").astype("datetime64[ns]"), name="date")
    return pd.DataFrame({"id": code, "y": y}, index=index)


def _timed(module, name, bucket, totals):
    """Wrap ``module.name`` so that its calls add their time to ``totals[bucket]``."""
    original = getattr(module, name)

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[bucket] += time.perf_counter() - t0

    setattr(module, name, timed)


def _peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(n_series):
    """Fit and forecast ``n_series`` series; a dict of the figures."""
    from tsrnn import RNNForecaster
    from tsrnn._forecast import forecast, global_model, series, single, windows

    totals = defaultdict(float)
    _timed(global_model, "panel_series", "split", totals)
    _timed(global_model, "_prepare_series", "prepare", totals)
    _timed(windows, "training_windows", "windows", totals)
    _timed(single, "fit_estimator", "network", totals)
    _timed(windows, "residuals", "calibration", totals)
    _timed(global_model, "forecast_inputs", "forecast inputs", totals)
    _timed(global_model, "series_forecast", "forecasts", totals)
    del forecast, series
    t0 = time.perf_counter()
    panel = make_panel(n_series)
    out = {"series": n_series, "rows": len(panel), "generate_s": time.perf_counter() - t0,
           "panel_mib": _peak_mib()}
    fc = RNNForecaster(series_id="id", **SETTINGS,
                       estimator=RNNForecaster.default_estimator(**NETWORK))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the one epoch's ConvergenceWarning
        fc.fit(panel)
    out["fit_s"] = time.perf_counter() - t0
    out["windows"] = int(fc.n_windows_)
    t0 = time.perf_counter()
    point = fc.predict()
    out["forecast_s"] = time.perf_counter() - t0
    assert len(point) == 7 * n_series and np.isfinite(point.to_numpy()).all()
    out["peak_mib"] = _peak_mib()
    out["stages_s"] = dict(totals)
    out["fit_ms_per_series"] = 1e3 * out["fit_s"] / n_series
    out["forecast_ms_per_series"] = 1e3 * out["forecast_s"] / n_series
    out["network_us_per_window"] = 1e6 * totals["network"] / max(1, out["windows"])
    return out


def _table(results):
    stages = list(dict.fromkeys(k for r in results for k in r["stages_s"]))
    head = ["series", "windows", "fit s", "forecast s", "fit ms/series",
            "forecast ms/series", "peak RSS MiB"] + [f"{s} s" for s in stages]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        row = [f"{r['series']:,}", f"{r['windows']:,}", f"{r['fit_s']:.1f}",
               f"{r['forecast_s']:.1f}", f"{r['fit_ms_per_series']:.2f}",
               f"{r['forecast_ms_per_series']:.2f}", f"{r['peak_mib']:.0f}"] + \
              [f"{r['stages_s'].get(s, 0.0):.1f}" for s in stages]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one)), flush=True)
        return 0
    results = []
    for n in args.sizes:
        done = subprocess.run([sys.executable, __file__, "--one", str(n)], check=True,
                              capture_output=True, text=True, env=os.environ)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    print(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
