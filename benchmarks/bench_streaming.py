"""Stateful streaming against the window model on the bundled buoy sea temperature.

The half-hourly water temperature (``tsrnn.datasets.load_sea_temperature``, on its
30-minute grid: the 24 missing slots are missing values) is split 70 / 30 in time.
Both models are fitted on the first 70 % and then forecast the next ``horizon`` = 48
readings (one day) from **every** reading of the last 30 %, as a sensor feed would ask:

- ``stateful``: ``StreamingForecaster(horizon=48)`` with its default network (an
  LSTM of 32 units, the forecasting defaults), trained by truncated BPTT(k1, k2);
  at each new reading ``update(reading)`` (one recurrent step) then ``predict()``;
- ``window``: ``RNNForecaster(horizon=48)`` with its defaults (the same network
  settings, windows of ``lags="auto"`` = 96 readings, ``window_norm="auto"``, here a
  daily decomposition); at each new reading ``predict(y=last lags readings)``, which
  re-reads the window;
- ``naive`` (the last reading) and ``seasonal naive`` (the reading one day before
  each forecast step), at the same origins.

Ablations of the stateful model (same seeds): ``k1=24`` instead of 48, and the
network's inputs reduced to the change only or to the level only (by replacing
:meth:`tsrnn._forecast.stream.StreamUnits.inputs` for the run; the forecaster has
no parameter for it).

Reported: MAE (degrees C) and MASE (scaled by the in-sample seasonal-naive error of
the training part, period 48) over all origins and lead times, MAE at leads 1, 12
and 48; fit time; per-reading latency (median and 90th percentile of the wall time
of ``update`` + ``predict``, resp. ``predict(y=window)``). Mean ± std over seeds.

Usage::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_streaming.py --seeds 3 --out streaming.md
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings

import numpy as np

import tsrnn._forecast.stream as _stream
from tsrnn import RNNForecaster, StreamingForecaster, datasets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import emit  # noqa: E402

HORIZON = 48
SEASON = 48
TRAIN = 0.7
LEADS = (1, 12, 48)


def data():
    y = datasets.load_sea_temperature()["temperature"].asfreq("30min")
    cut = int(TRAIN * len(y))
    return y, cut


@contextlib.contextmanager
def inputs_only(which):
    """The stateful network's inputs reduced to ``which`` ("change" or "level") for the
    run (an ablation; None: as shipped)."""
    if which is None:
        yield
        return
    full, n_inputs = _stream.StreamUnits.inputs, _stream.StreamUnits.n_inputs

    def inputs(self, values, previous):
        out = full(self, values, previous)
        K = self.n_targets
        return out[:, K:2 * K] if which == "change" else out[:, :K]

    _stream.StreamUnits.inputs = inputs
    _stream.StreamUnits.n_inputs = property(lambda self: self.n_targets)
    try:
        yield
    finally:
        _stream.StreamUnits.inputs, _stream.StreamUnits.n_inputs = full, n_inputs


def stateful(y, cut, seed, inputs=None, **params):
    """(forecasts (origins, H), fit seconds, per-reading seconds) of the stateful model."""
    n = len(y)
    rows = [y.iloc[o:o + 1] for o in range(cut, n - HORIZON)]
    with inputs_only(inputs):
        t = time.perf_counter()
        fc = StreamingForecaster(horizon=HORIZON, random_state=seed, **params).fit(y.iloc[:cut])
        fit = time.perf_counter() - t
        preds, lat = [fc.predict().to_numpy()], []
        for row in rows:
            t = time.perf_counter()
            p = fc.update(row).predict()
            lat.append(time.perf_counter() - t)
            preds.append(p.to_numpy())
    return np.array(preds), fit, np.array(lat), fc


def window(y, cut, seed):
    """The same for the window model, which re-reads its last ``lags_`` readings."""
    n = len(y)
    t = time.perf_counter()
    fc = RNNForecaster(horizon=HORIZON, random_state=seed).fit(y.iloc[:cut])
    fit = time.perf_counter() - t
    preds, lat = [], []
    for o in range(cut - 1, n - HORIZON):
        hist = y.iloc[o + 1 - fc.lags_:o + 1]
        t = time.perf_counter()
        p = fc.predict(y=hist)
        lat.append(time.perf_counter() - t)
        preds.append(p.to_numpy())
    return np.array(preds), fit, np.array(lat[1:]), fc


def baselines(y, cut):
    n = len(y)
    filled = y.ffill().to_numpy()
    origins = np.arange(cut - 1, n - HORIZON)
    lead = np.arange(1, HORIZON + 1)
    naive = np.repeat(filled[origins][:, None], HORIZON, axis=1)
    back = SEASON * np.ceil(lead / SEASON).astype(int)
    snaive = filled[origins[:, None] + lead[None] - back[None]]
    truth = y.to_numpy()[origins[:, None] + lead[None]]
    train = filled[:cut]
    scale = float(np.mean(np.abs(train[SEASON:] - train[:-SEASON])))
    return origins, truth, scale, {"naive": naive, "seasonal naive": snaive}


def scores(pred, truth, scale):
    err = np.abs(pred - truth)
    mae = float(np.nanmean(err))
    return {"mae": mae, "mase": mae / scale,
            **{f"lead {k}": float(np.nanmean(err[:, k - 1])) for k in LEADS}}


def fmt(values, digits=3):
    values = np.asarray(values, float)
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


MODELS = {
    "stateful (default, k1=48)": dict(),
    "stateful, k1=24": dict(k1=24),
    "stateful, change input only": dict(inputs="change"),
    "stateful, level input only": dict(inputs="level"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-ablations", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    y, cut = data()
    origins, truth, scale, base = baselines(y, cut)
    results = {name: {"scores": [], "fit": [], "lat": []} for name in
               ["window (RNNForecaster)"] + list(MODELS)[:1 if args.no_ablations else None]}
    for seed in range(args.seeds):
        for name, entry in results.items():
            if name.startswith("window"):
                pred, fit, lat, fc = window(y, cut, seed)
            else:
                pred, fit, lat, fc = stateful(y, cut, seed, **MODELS[name])
            entry["scores"].append(scores(pred, truth, scale))
            entry["fit"].append(fit)
            entry["lat"].append(lat)
            print(f"seed {seed} {name}: MASE {entry['scores'][-1]['mase']:.4f} fit {fit:.1f} s "
                  f"latency median {np.median(lat) * 1e3:.3f} ms "
                  f"({getattr(fc, 'n_iter_', None) or fc.estimator_.n_iter_} epochs)",
                  flush=True)
    lines = [f"Buoy B01 sea temperature, {len(y)} half-hours on the grid; train {cut} "
             f"({y.index[0]} .. {y.index[cut - 1]}), forecasts of {HORIZON} steps from each "
             f"of the {len(origins)} readings {y.index[origins[0]]} .. {y.index[origins[-1]]}; "
             f"seeds 0..{args.seeds - 1}; MASE scale {scale:.4f} degrees C.", "",
             "| model | MASE | MAE (C) | MAE lead 1 | MAE lead 12 | MAE lead 48 | fit (s) "
             "| latency per reading, median (ms) | 90th pct (ms) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, entry in results.items():
        s = {k: [d[k] for d in entry["scores"]] for k in entry["scores"][0]}
        lat = np.concatenate(entry["lat"])
        lines.append(f"| {name} | {fmt(s['mase'])} | {fmt(s['mae'])} | {fmt(s['lead 1'])} | "
                     f"{fmt(s['lead 12'])} | {fmt(s['lead 48'])} | {fmt(entry['fit'], 1)} | "
                     f"{np.median(lat) * 1e3:.3f} | {np.percentile(lat, 90) * 1e3:.3f} |")
    for name, pred in base.items():
        s = scores(pred, truth, scale)
        lines.append(f"| {name} | {s['mase']:.3f} | {s['mae']:.3f} | {s['lead 1']:.3f} | "
                     f"{s['lead 12']:.3f} | {s['lead 48']:.3f} | - | - | - |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
