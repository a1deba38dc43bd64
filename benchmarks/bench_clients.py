"""tsrnn inside skforecast and mlforecast: the windows read as they come against read in
time order, beside the clients' usual baselines.

Series (``--dataset``): the bundled Seattle daily maximum temperature
(``tsrnn.datasets.load_weather``, ``temp_max``; season 7) or the weekly Mauna Loa CO2
(``load_co2``; season 52), forecast 7 steps ahead from 14 lags at each of the last
``--folds`` origins 7 steps apart (fixed model fitted once on everything before the first origin,
``refit=False``).  MAE (degrees C, ppm) over all origins and lead times; mean ± std over
seeds.

- ``skforecast, as-is``: ``ForecasterRecursive(RNNRegressor(lag_order="oldest_first"))``:
  skforecast's arrays (newest lag first) read oldest first, as tsrnn did before it
  could be told (the windows run backwards in time);
- ``skforecast, lag_order="newest_first"``: the same network reading them in time order;
- ``mlforecast``: ``MLForecast(models=[RNNRegressor()], lags=1..14)``, its ``lag1..``
  names read by tsrnn;
- ``Ridge`` in each client on the same lags, and the seasonal-naive (7 days) and naive
  forecasts at the same origins.

The network is ``RNNRegressor``'s defaults (LSTM 32, ``max_iter=300``) with
``random_state`` = seed.  Run in an environment with skforecast and mlforecast (the
``clients`` extra)::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_clients.py --seeds 3 --out clients.md
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

import tsrnn
from tsrnn import RNNRegressor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import emit  # noqa: E402

LAGS, H = 14, 7


def _series(name):
    """The series, its frequency and its season."""
    if name == "co2":
        s = tsrnn.datasets.load_co2().iloc[:, 0]
        freq = pd.infer_freq(s.index[-10:])
        return s.asfreq(freq).interpolate().rename("y"), freq, 52
    s = tsrnn.datasets.load_weather()["temp_max"].asfreq("D").interpolate()
    return s.rename("y"), "D", 7


def _origins(s, folds):
    return [len(s) - H * (folds - k) for k in range(folds)]


def _skforecast(estimator, s, origins):
    from skforecast.recursive import ForecasterRecursive

    f = ForecasterRecursive(estimator, lags=LAGS)
    f.fit(s.iloc[:origins[0]])
    errs = []
    for o in origins:
        pred = f.predict(H, last_window=s.iloc[o - LAGS:o])
        errs.append(np.abs(pred.to_numpy() - s.iloc[o:o + H].to_numpy()))
    return float(np.mean(errs))


def _mlforecast(estimator, s, origins, freq):
    from mlforecast import MLForecast

    frame = pd.DataFrame({"unique_id": "seattle", "ds": s.index, "y": s.to_numpy()})
    m = MLForecast(models={"m": estimator}, freq=freq, lags=list(range(1, LAGS + 1)))
    m.fit(frame.iloc[:origins[0]])
    errs = []
    for o in origins:
        pred = m.predict(H, new_df=frame.iloc[o - 3 * LAGS:o])["m"].to_numpy()
        errs.append(np.abs(pred - s.iloc[o:o + H].to_numpy()))
    return float(np.mean(errs))


def _baselines(s, origins, season):
    v = s.to_numpy()
    naive = np.mean([np.abs(v[o:o + H] - v[o - 1]) for o in origins])
    seasonal = np.mean([np.abs(v[o:o + H] - v[o - season:o - season + H]) for o in origins])
    return float(naive), float(seasonal)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--folds", type=int, default=20)
    ap.add_argument("--dataset", choices=("weather", "co2"), default="weather")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    s, freq, season = _series(args.dataset)
    origins = _origins(s, args.folds)
    rows = {"skforecast, as-is (read backwards)": [], 'skforecast, lag_order="newest_first"': [],
            "mlforecast (names read)": []}
    for seed in range(args.seeds):
        net = dict(random_state=seed)
        rows["skforecast, as-is (read backwards)"].append(
            _skforecast(RNNRegressor(**net, lag_order="oldest_first"), s, origins))
        rows['skforecast, lag_order="newest_first"'].append(
            _skforecast(RNNRegressor(**net, lag_order="newest_first"), s, origins))
        rows["mlforecast (names read)"].append(_mlforecast(RNNRegressor(**net), s, origins, freq))
        print(seed, {k: round(v[-1], 4) for k, v in rows.items()}, flush=True)
    fixed = {"skforecast, Ridge": _skforecast(Ridge(), s, origins),
             "mlforecast, Ridge": _mlforecast(Ridge(), s, origins, freq)}
    fixed["naive"], fixed[f"seasonal naive ({season})"] = _baselines(s, origins, season)
    lines = [f"{args.dataset}, h={H}, {LAGS} lags, {len(origins)} origins {H} steps apart, "
             f"{args.seeds} seeds", "",
             f"| model | MAE ({'ppm' if args.dataset == 'co2' else '°C'}) |",
             "|---|---:|"]
    lines += [f"| {k} | {np.mean(v):.3f} ± {np.std(v):.3f} |" for k, v in rows.items()]
    lines += [f"| {k} | {v:.3f} |" for k, v in fixed.items()]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
