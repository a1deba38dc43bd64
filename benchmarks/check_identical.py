"""Bit-identity check of forecasts across commits: the reshaping issue's proof.

Fits a set of forecasters on the bundled datasets (default networks, full
training, the same seeds) and records their point forecasts, conformal
intervals, quantiles, and backtest summaries and forecasts; and, for the engine
alone, ``Network`` forward passes and gradients of 192 configurations (every
cell and dtype, one and two layers, dropout, truncated BPTT, many-to-many, one
and two threads).  ``--save`` writes
them to a file; ``--compare`` recomputes them and reports every entry that is
not bitwise equal (NaN equal to NaN).

It speaks both forecaster APIs, so that it can run on a commit before the
forecaster took its network as an ``estimator`` and on one after::

    # on the old commit (e.g. a worktree of it):
    PYTHONPATH=/path/to/old python benchmarks/check_identical.py --save ref.pkl
    # on the new one:
    python benchmarks/check_identical.py --compare ref.pkl

Exit status 0 when everything is identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import inspect
import pickle
import sys
import time
import warnings

import numpy as np
import pandas as pd


def _forecaster(fc_params, net_params):
    """An RNNForecaster with these forecaster and network parameters, in either API."""
    from tsrnn import RNNForecaster

    fc_params = dict(fc_params)
    if "estimator" in inspect.signature(RNNForecaster).parameters:
        est = RNNForecaster.default_estimator(**net_params) if net_params else None
        return RNNForecaster(**fc_params, estimator=est)
    return RNNForecaster(**fc_params, **net_params)


def _cases():
    from tsrnn.datasets import load_co2, load_sea_temperature, load_stocks, load_weather

    w = load_weather()
    cal = pd.DataFrame({"dow": w.index.dayofweek, "doy": w.index.dayofyear}, index=w.index)
    wx = pd.concat([w[["precipitation", "wind"]], cal], axis=1)
    co2 = load_co2()["co2"]
    sea = load_sea_temperature().iloc[-6000:, 0]
    stocks = load_stocks()
    msft = stocks["MSFT"]
    long = load_stocks(long=True)[["ticker", "adj_close"]]
    seed = {"random_state": 0}
    return {
        # name: (forecaster params, network params, y, X, backtest kwargs, extras)
        "weather-default": ({"horizon": 7, **seed}, {}, w["temp_max"], None,
                            {"initial": 0.7, "m": 7, "coverage": 0.9}, ()),
        "weather-joint-covariates": (
            {"horizon": 7, "lags": 28, "past_covariates": ["precipitation", "wind"], **seed},
            {"cell": "gru"}, w[["temp_max", "temp_min"]], wx,
            {"initial": 0.8, "m": 7, "coverage": 0.8}, ()),
        "weather-quantiles": ({"horizon": 3, **seed},
                              {"loss": "quantile", "quantiles": [0.1, 0.5, 0.9]},
                              w["temp_max"], None, None, ("quantiles",)),
        "co2-gru": ({"horizon": 12, **seed}, {"cell": "gru"}, co2, None,
                    {"initial": 0.7, "m": 52, "coverage": 0.9}, ()),
        "co2-drop-absolute": ({"horizon": 4, "missing": "drop", "window_norm": None, **seed},
                              {"cell": "rnn", "activation": "relu", "max_iter": 60},
                              co2, None, None, ()),
        "sea-48": ({"horizon": 48, **seed}, {"max_iter": 40}, sea, None,
                   {"initial": 0.7, "m": 48}, ()),
        "msft-recursive": ({"horizon": 5, "strategy": "recursive", **seed}, {}, msft, None,
                           {"initial": 0.8, "m": 5, "refit": 3, "step": 40}, ()),
        "msft-deep-dropout": ({"horizon": 5, **seed},
                              {"num_layers": 2, "dropout": 0.2, "hidden_size": 16,
                               "solver": "sgd", "learning_rate_init": 1e-2, "max_iter": 50},
                              msft, None, None, ()),
        "stocks-global-onehot": ({"horizon": 5, "global_model": True,
                                  "series_encoding": "onehot", **seed}, {"max_iter": 30},
                                 stocks, None, None, ()),
        "stocks-global-embedding": ({"horizon": 5, "series_id": "ticker",
                                     "series_encoding": "embedding", **seed}, {"max_iter": 30},
                                    long, None, None, ()),
        "stocks-global-plain-recursive": ({"horizon": 3, "global_model": True,
                                           "strategy": "recursive", "window_norm": None,
                                           **seed}, {"max_iter": 20}, stocks, None, None, ()),
    }


def _frame(obj):
    """A pandas result as (values, index labels, column labels) for exact comparison."""
    if isinstance(obj, pd.Series):
        obj = obj.to_frame()
    return {"values": obj.to_numpy(), "index": [str(i) for i in obj.index],
            "columns": [str(c) for c in obj.columns]}


def _networks():
    """The engine alone: forward passes and gradients of ``tsrnn.nn.Network`` for every cell,
    dtype, depth, dropout, truncation, many-to-many, batch size and thread count."""
    from tsrnn.nn import Network

    out = {}
    rng = np.random.default_rng(0)
    for cell, act in [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]:
        for dt in (np.float32, np.float64):
            for L in (1, 2):
                for C in (1, 3):
                    for n in (5, 40, 100):
                        net = Network(cell, input_size=C, hidden_size=7, num_layers=L,
                                      output_size=2, activation=act, dtype=dt, random_state=1)
                        X = rng.normal(size=(n, 9, C))
                        Y = rng.normal(size=(n, 2))
                        Ys = rng.normal(size=(n, 9, 2))
                        masks = (rng.random((L - 1, n, 9, 7)) > 0.3) / 0.7 if L > 1 else None
                        for nj in (1, 2):
                            l1, g1 = net.loss_grad(X, Y, "squared_error", n_jobs=nj,
                                                   input_grad=True, dropout_masks=masks,
                                                   bptt_steps=4)
                            l2, g2 = net.loss_grad(X, Ys, "huber", return_sequences=True,
                                                   n_jobs=nj)
                            res = {"loss": {"values": np.array([l1, l2]), "index": [],
                                            "columns": []}}
                            for tag, grads in (("grad", g1), ("grad_seq", g2)):
                                for k, v in grads.items():
                                    res[f"{tag}:{k}"] = {"values": v, "index": [], "columns": []}
                            for tag, f in (("forward", net.forward(X, n_jobs=nj)),
                                           ("forward_seq", net.forward(X, return_sequences=True,
                                                                       n_jobs=nj))):
                                res[tag] = {"values": f, "index": [], "columns": []}
                            out[f"network {cell}-{act} {np.dtype(dt).name} L{L} C{C} n{n} "
                                f"jobs{nj}"] = res
    return out


def compute(only=None):
    from tsrnn.model_selection import backtest

    out = {} if only and "networks" not in only else _networks()
    for name, (fcp, netp, y, X, bt, extras) in _cases().items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        fc = _forecaster(fcp, netp).fit(y, X)
        Xf = None
        if X is not None:  # the calendar covariates over the forecast steps, appended
            steps = pd.date_range(y.index[-1], periods=fcp["horizon"] + 1, freq="D")[1:]
            Xf = pd.concat([X, pd.DataFrame({"dow": steps.dayofweek, "doy": steps.dayofyear},
                                            index=steps)])
        res = {"predict": _frame(fc.predict(X=Xf))}
        if fcp.get("calibration_fraction", 0.1) is not None:
            res["interval"] = _frame(fc.predict_interval(0.8, X=Xf))
        if "quantiles" in extras:
            res["quantiles"] = _frame(fc.predict_quantiles(X=Xf))
        if bt is not None:
            r = backtest(_forecaster(fcp, netp), y, X, **bt)
            res["backtest_summary"] = _frame(r.summary)
            res["backtest_forecasts"] = _frame(r.forecasts.drop(columns=["origin", "time"]))
        out[name] = res
        print(f"{name}: {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def _equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def compare(ref, new):
    bad = []
    for name, res in ref.items():
        if name not in new:
            bad.append(f"{name}: missing")
            continue
        for key, want in res.items():
            got = new[name].get(key)
            if got is None:
                bad.append(f"{name}/{key}: missing")
                continue
            for part in ("values", "index", "columns"):
                if not _equal(want[part], got[part]):
                    extra = ""
                    if part == "values" and np.shape(want[part]) == np.shape(got[part]):
                        try:
                            w = np.asarray(want[part], float)
                            diff = np.nanmax(np.abs(w - np.asarray(got[part], float)))
                            scale = np.nanmax(np.abs(w))
                            rel = diff / scale if scale > 0 else np.inf
                            # relative to the entry's largest magnitude: the size of a
                            # change in units of the float's resolution at that scale
                            extra = f" (max abs diff {diff:.3g}, {rel:.3g} of max |value|)"
                        except (TypeError, ValueError):
                            pass
                    bad.append(f"{name}/{key}: {part} differ{extra}")
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", help="write the results to this file")
    g.add_argument("--compare", help="compare against results saved by --save")
    ap.add_argument("--only", nargs="*", help="case names to run ('networks': the engine's)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    import tsrnn

    print(f"tsrnn {tsrnn.__version__} from {tsrnn.__file__}")
    results = compute(args.only)
    if args.save:
        with open(args.save, "wb") as f:
            pickle.dump(results, f)
        print(f"wrote {args.save} ({len(results)} cases)")
        return 0
    with open(args.compare, "rb") as f:
        ref = pickle.load(f)
    if args.only:
        ref = {k: v for k, v in ref.items() if k in args.only or
               ("networks" in args.only and k.startswith("network "))}
    bad = compare(ref, results)
    n = sum(len(v) for v in ref.values())
    if bad:
        print(f"NOT identical: {len(bad)} of {n} results differ")
        for line in bad:
            print("  " + line)
        return 1
    print(f"identical: all {n} results of {len(ref)} cases are bitwise equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
