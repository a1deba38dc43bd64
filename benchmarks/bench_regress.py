"""Small-data regression check (issue 13): tsrnn's RNNRegressor against simple baselines.

The two time-series regression problems bundled with aeon, with their official
train/test splits: Covid3Month (140/61 univariate series of length 84; the target is
the death rate of a country's next month) and CardanoSentiment (74/33 series, 2 channels,
length 24; the target is a sentiment score).  In the same run it measures the test
RMSE and fit+predict seconds of

* tsrnn's ``RNNRegressor`` with default parameters (only ``random_state`` set), plus
  any configurations given with ``--tsrnn 'name=JSON'`` (e.g. the defaults before a
  change, spelt out);
* the training mean (a constant prediction);
* 1-NN DTW: aeon's ``KNeighborsTimeSeriesRegressor(distance="dtw", n_neighbors=1)``;
* MiniRocket: aeon's ``MiniRocketRegressor`` (MiniRocket transform + RidgeCV).

With ``--cv K`` each tsrnn configuration is also scored by K-fold cross-validation
(shuffled, seeded) on the TRAIN split only (RMSE over the pooled folds' predictions).
This script was written to check that defaults chosen on the classification
benchmark (``bench_classify.py``) do not hurt small-data regression; it picks nothing.

Command (from /tmp, as recorded in benchmarks/RESULTS.md)::

    cd /tmp && PYTHONPATH=/work/wt_defaults NUMBA_CACHE_DIR=/work/bench/nbc_new2 \\
      OPENBLAS_CORETYPE=Haswell /work/venv_bench/bin/python \\
      /work/wt_defaults/benchmarks/bench_regress.py --seeds 0,1,2 --cv 5 \\
      --tsrnn 'old_default={"batch_size":"min(64, n)","init":"pytorch","clip_norm":null,"learning_rate":"constant","max_iter":200}' \\
      --json /work/bench/dflt_reg.json

A configuration's ``batch_size`` may be an expression of ``n`` (the number of training
series of that fit), as in ``bench_classify.py``.
"""
import json
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_classify import make_params, parse_args, summarise  # noqa: E402

DATASETS = ["Covid3Month", "CardanoSentiment"]


def load(name):
    from aeon.datasets import load_regression
    X_tr, y_tr = load_regression(name, split="train")
    X_te, y_te = load_regression(name, split="test")
    return X_tr, np.asarray(y_tr, float), X_te, np.asarray(y_te, float)


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def fit_predict_rnn(cfg, seed, Xtr, ytr, Xte):
    from tsrnn import RNNRegressor
    reg = RNNRegressor(**make_params(cfg, len(Xtr), seed))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(Xtr, ytr)
        pred = reg.predict(Xte)
    return pred, time.perf_counter() - t0, reg


def run_rnn(name, cfg, seed, Xtr, ytr, Xte, yte, cv):
    fit_predict_rnn(dict(cfg, max_iter=1), 0, Xtr[:8], ytr[:8], Xtr[:2])  # compile
    pred, secs, reg = fit_predict_rnn(cfg, seed, Xtr, ytr, Xte)
    res = dict(method=f"tsrnn:{name}", seed=seed, config=cfg, rmse=rmse(pred, yte), secs=secs,
               n_iter=int(reg.n_iter_),
               batch_size=make_params(cfg, len(Xtr), seed).get("batch_size", "auto"))
    if cv:
        from sklearn.model_selection import KFold
        oof = np.empty_like(ytr)
        for tr, va in KFold(cv, shuffle=True, random_state=seed).split(ytr):
            oof[va] = fit_predict_rnn(cfg, seed, Xtr[tr], ytr[tr], Xtr[va])[0]
        res["cv_rmse"] = rmse(oof, ytr)
    return res


def run_baselines(X_tr, y_tr, X_te, y_te, seeds):
    from aeon.regression.convolution_based import MiniRocketRegressor
    from aeon.regression.distance_based import KNeighborsTimeSeriesRegressor
    rows = [dict(method="mean", seed=None, rmse=rmse(np.full(len(y_te), y_tr.mean()), y_te),
                 secs=0.0)]
    knn = lambda: KNeighborsTimeSeriesRegressor(distance="dtw", n_neighbors=1)  # noqa: E731
    knn().fit(X_tr[:4], y_tr[:4]).predict(X_te[:2])  # JIT
    t0 = time.perf_counter()
    pred = knn().fit(X_tr, y_tr).predict(X_te)
    rows.append(dict(method="1NN-DTW", seed=None, rmse=rmse(pred, y_te),
                     secs=time.perf_counter() - t0))
    MiniRocketRegressor(random_state=0).fit(X_tr[:10], y_tr[:10]).predict(X_te[:2])  # JIT
    for s in seeds:
        t0 = time.perf_counter()
        pred = MiniRocketRegressor(random_state=s).fit(X_tr, y_tr).predict(X_te)
        rows.append(dict(method="MiniRocket", seed=s, rmse=rmse(pred, y_te),
                         secs=time.perf_counter() - t0))
    return rows


def print_table(ds, info, summ):
    f = lambda v, spec=".4f": "n/a" if v is None else format(v, spec)  # noqa: E731
    print(f"\n### {ds}  ({info})")
    print("| method | test RMSE | (sd over seeds) | CV RMSE on train | fit+predict s | epochs | batch |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for m, s in summ.items():
        print(f"| {m} | {s['rmse']:.4f} | {s['rmse_sd']:.4f} (n={s['n']}) | {f(s.get('cv_rmse'))} "
              f"| {s['secs']:.2f} | {f(s.get('n_iter'), '.0f')} | {s.get('batch_size', '')} |")


def report(paths):
    merged = {}
    for p in paths:
        with open(p) as fh:
            d = json.load(fh)
        for ds, s in d["summaries"].items():
            merged.setdefault(ds, dict(info=s["info"], methods={}))["methods"].update(s["methods"])
    for ds, s in merged.items():
        print_table(ds, s["info"], s["methods"])


def main(argv=None):
    a, configs, seeds = parse_args(argv, __doc__, DATASETS, "RNNRegressor",
                                   "the mean, 1-NN DTW and MiniRocket")
    if a.report:
        return report(a.report)
    env = dict(python=sys.version.split()[0], cpus=os.cpu_count(), loadavg_start=os.getloadavg())
    print("configs:", configs, "seeds:", seeds, "cv:", a.cv)
    summaries, all_rows, t_all = {}, {}, time.perf_counter()
    for ds in a.datasets.split(","):
        X_tr, y_tr, X_te, y_te = load(ds)
        info = (f"train {len(y_tr)}, test {len(y_te)}, {X_tr.shape[1]} channels, length "
                f"{X_tr.shape[2]}, sd of y_train {y_tr.std():.4f}")
        Xtr = np.ascontiguousarray(np.transpose(X_tr, (0, 2, 1)))
        Xte = np.ascontiguousarray(np.transpose(X_te, (0, 2, 1)))
        rows = [] if a.no_baselines else run_baselines(X_tr, y_tr, X_te, y_te, seeds)
        for name, cfg in configs:
            for s in seeds:
                r = run_rnn(name, cfg, s, Xtr, y_tr, Xte, y_te, a.cv)
                rows.append(r)
                print(f"  {ds} {r['method']} seed {s}: rmse {r['rmse']:.4f} cv "
                      f"{r.get('cv_rmse', float('nan')):.4f} {r['secs']:.1f}s epochs {r['n_iter']}",
                      flush=True)
        summ = summarise(rows, "rmse")
        print_table(ds, info, summ)
        all_rows[ds], summaries[ds] = rows, dict(info=info, methods=summ)
    env["loadavg_end"] = os.getloadavg()
    env["total_secs"] = time.perf_counter() - t_all
    print(f"\ntotal {env['total_secs']:.0f}s")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(dict(env=env, configs=configs, seeds=seeds, cv=a.cv, results=all_rows,
                           summaries=summaries), fh, indent=1, default=str)


if __name__ == "__main__":
    main()
