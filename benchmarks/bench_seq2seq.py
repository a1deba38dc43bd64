"""Encoder-decoder against direct and recursive forecasting, with calendar covariates.

The bundled Seattle weather (daily, 2012-2015): ``temp_max`` forecast ``--horizon``
days ahead by ``RNNForecaster`` with each ``strategy`` (``direct``, ``recursive``,
``seq2seq``), its default network and window (``RNNForecaster.default_estimator()``,
``lags="auto"``; ``seq2seq+feedback``: with ``decoder_feedback=True``), with and
without future-known calendar covariates (the first
``--harmonics`` annual Fourier pairs ``sin/cos(2 pi k day / 365.25)``, known for any
future day).  Each configuration is fitted once on the first ``--initial`` of the
series and forecasts from every ``--step``-th origin after it
(:func:`tsrnn.model_selection.backtest`, ``refit=False``); reported per
configuration, averaged over ``--seeds``: MASE (scaled by the in-sample
seasonal-naive error, m=7) and RMSE, beside the naive and seasonal-naive forecasts
of the same origins, and the seconds per fit.

Usage::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_seq2seq.py --out seq2seq.md
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
from bench_mcomp import git_rev, write  # noqa: E402

STRATEGIES = ("direct", "recursive", "seq2seq", "seq2seq+feedback")


def calendar(index, harmonics):
    """Annual Fourier terms of a daily index: future-known for any date."""
    day = index.day_of_year.to_numpy()
    cols = {}
    for k in range(1, harmonics + 1):
        cols[f"sin{k}"] = np.sin(2 * np.pi * k * day / 365.25)
        cols[f"cos{k}"] = np.cos(2 * np.pi * k * day / 365.25)
    return pd.DataFrame(cols, index=index)


def run(y, X, strategy, horizon, seed, initial, step):
    from tsrnn import RNNForecaster
    from tsrnn.model_selection import backtest

    # "seq2seq+feedback": the decoder also fed the previous step's values
    fc = RNNForecaster(horizon=horizon, strategy=strategy.split("+")[0],
                       decoder_feedback=strategy.endswith("+feedback"), random_state=seed)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = backtest(fc, y, X, initial=initial, step=step, m=7)
    mase, rmse = res.summary.loc["mase"], res.summary.loc["rmse"]
    return {"mase": float(mase["forecaster"]), "mase_naive": float(mase["naive"]),
            "mase_snaive": float(mase["seasonal_naive"]), "rmse": float(rmse["forecaster"]),
            "rmse_naive": float(rmse["naive"]), "rmse_snaive": float(rmse["seasonal_naive"]),
            "origins": int(res.forecasts["origin"].nunique()), "fit_time": res.fit_time,
            "seconds": time.perf_counter() - t0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--horizon", type=int, default=7)
    ap.add_argument("--harmonics", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--initial", type=float, default=0.75)
    ap.add_argument("--step", type=int, default=7)
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    ap.add_argument("--out")
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    from tsrnn.datasets import load_weather

    y = load_weather()["temp_max"].asfreq("D")
    cal = calendar(y.index, args.harmonics)
    rows, record = [], []
    for covs in (False, True):
        for strategy in args.strategies:
            runs = [run(y, cal if covs else None, strategy, args.horizon, s, args.initial,
                        args.step) for s in args.seeds]
            mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
            spread = float(np.std([r["mase"] for r in runs]))
            record.append({"strategy": strategy, "covariates": covs, "runs": runs})
            rows.append((strategy, covs, mean, spread))
            print(f"{strategy:9s} covariates={covs}: MASE {mean['mase']:.3f} "
                  f"(±{spread:.3f}) RMSE {mean['rmse']:.3f}, fit {mean['fit_time']:.1f} s",
                  file=sys.stderr, flush=True)
    base = rows[0][2]
    lines = [f"`temp_max`, horizon {args.horizon}, fitted on the first {args.initial:.0%}, "
             f"{base['origins']} origins every {args.step} days; seeds {args.seeds}; "
             f"tsrnn {git_rev()}, {platform.processor() or platform.machine()}.", "",
             "| strategy | calendar covariates | MASE (± sd over seeds) | RMSE | fit (s) |",
             "|---|---|---:|---:|---:|"]
    for strategy, covs, mean, spread in rows:
        lines.append(f"| {strategy} | {'yes' if covs else 'no'} | {mean['mase']:.3f} "
                     f"(± {spread:.3f}) | {mean['rmse']:.3f} | {mean['fit_time']:.1f} |")
    lines.append(f"| naive | | {base['mase_naive']:.3f} | {base['rmse_naive']:.3f} | |")
    lines.append(f"| seasonal naive (m=7) | | {base['mase_snaive']:.3f} | "
                 f"{base['rmse_snaive']:.3f} | |")
    write("\n".join(lines) + "\n", args.out, args.json, {"args": vars(args), "runs": record})


if __name__ == "__main__":
    main()
