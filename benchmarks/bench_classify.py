"""Classification benchmark (issue 13): tsrnn's RNNClassifier against 1-NN DTW and MiniRocket.

Four UCR/UEA problems bundled with aeon, with their official train/test splits:
GunPoint and ItalyPowerDemand (univariate), BasicMotions and JapaneseVowels
(multivariate; JapaneseVowels has unequal lengths 7-29).  In the same run it
measures test accuracy and fit+predict seconds of

* tsrnn's ``RNNClassifier`` with default parameters (only ``random_state`` set),
  plus any extra configurations given with ``--tsrnn 'name=JSON'``;
* 1-NN DTW: aeon's ``KNeighborsTimeSeriesClassifier(distance="dtw", n_neighbors=1)``
  (full window; on multivariate data aeon's DTW is the dependent DTW_D; it takes the
  unequal-length JapaneseVowels as it is);
* MiniRocket: aeon's ``MiniRocketClassifier`` (MiniRocket transform + RidgeClassifierCV).
  It does not take unequal lengths, so JapaneseVowels is padded at the end with zeros to
  the longest length in train+test (29) with aeon's ``Padder`` (for MiniRocket only).

and prints the published figures beside them (``PUBLISHED`` below, with sources).
With ``--cv K`` each tsrnn configuration is also scored by stratified K-fold
cross-validation on the TRAIN split only, so that a configuration can be chosen
without looking at the test split.  Nothing in this script picks a configuration.

Data layout: aeon loads (n, channels, T) arrays; tsrnn takes (n, T, channels), so the
arrays are transposed; JapaneseVowels comes from aeon as a list of (channels, T_i)
arrays and is given to tsrnn as a list of (T_i, channels) arrays (sequences of their
own lengths, see the Notes of ``RNNRegressor``/``RNNClassifier``).

A configuration's ``batch_size`` may be an expression of ``n`` (the number of
training sequences of that fit), e.g. ``"min(32, max(1, n // 10))"``.

Commands (from /tmp, as recorded in benchmarks/RESULTS.md)::

    cd /tmp && PYTHONPATH=/work/wt_classify NUMBA_CACHE_DIR=/work/bench/nbc_cls \\
      OPENBLAS_CORETYPE=Haswell /work/venv_bench/bin/python \\
      /work/wt_classify/benchmarks/bench_classify.py --cv 5 --json /work/bench/cls_default.json

    # extra RNNClassifier configurations (repeat --tsrnn; --no-baselines skips DTW/MiniRocket)
    ... bench_classify.py --cv 5 --no-default --no-baselines \\
      --tsrnn 'tuned={"batch_size":16,"max_iter":300,"init":"orthogonal","n_iter_no_change":30}' \\
      --json /work/bench/cls_tuned.json

    # merged markdown tables of saved runs (measures nothing)
    ... bench_classify.py --report /work/bench/cls_default.json /work/bench/cls_tuned.json

Options: ``--datasets GunPoint,BasicMotions`` (subset), ``--seeds 0,1,2`` (default 0),
``--cv K`` (0 = off, the default), ``--json OUT``, ``--report JSON...``.
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

DATASETS = ["GunPoint", "ItalyPowerDemand", "BasicMotions", "JapaneseVowels"]

# Published test accuracies (official train/test split).
#  dtw: 1-NN DTW with full (unconstrained) window.
#    GunPoint, ItalyPowerDemand: UCR archive 2018 table (Dau et al., "The UCR time series
#      archive", www.cs.ucr.edu/~eamonn/time_series_data_2018/), column "DTW (w=100)".
#    BasicMotions: Ruiz et al. (2021), "The great multivariate time series classification
#      bake off", DMKD 35:401-449, DTW_D on the default train/test split, from the authors'
#      results file github.com/time-series-machine-learning/tsml-eval
#      results/tsml/MultivariateDefaultTrainTest.csv (same figure as fold 0 of
#      results/tsml/ByClassifier/Multivariate/DTW_D_TESTFOLDS.csv; DTW_I there is 0.725).
#    JapaneseVowels: n/a -- unequal length, so not in Ruiz et al.'s 26 equal-length problems,
#      and no reliable DTW figure for it from Bagnall et al. (2018) could be found here.
#  fcn, resnet: Fawaz et al. (2019), "Deep learning for time series classification: a
#    review", DMKD 33:917-963; mean over 10 runs, from the authors' repository
#    github.com/hfawaz/dl-4-tsc results/results-uea-avg-std.csv (UCR/UEA 85 archive) and
#    results/results-mts-avg-std.csv (Baydogan's MTS archive, JapaneseVowels 270/370 split).
#    BasicMotions is not in either of their archives.
#  resnet_ruiz: ResNet in Ruiz et al. (2021), same results file as the BasicMotions DTW_D
#    (not a Fawaz et al. figure; given for BasicMotions only).
PUBLISHED = {
    "GunPoint": {"dtw": 0.907, "fcn": 1.000, "resnet": 0.991, "resnet_ruiz": None},
    "ItalyPowerDemand": {"dtw": 0.950, "fcn": 0.961, "resnet": 0.963, "resnet_ruiz": None},
    "BasicMotions": {"dtw": 0.975, "fcn": None, "resnet": None, "resnet_ruiz": 1.000},
    "JapaneseVowels": {"dtw": None, "fcn": 0.993, "resnet": 0.992, "resnet_ruiz": None},
}
DTW_SOURCE = {
    "GunPoint": "UCR 2018 archive, DTW full window",
    "ItalyPowerDemand": "UCR 2018 archive, DTW full window",
    "BasicMotions": "Ruiz et al. 2021, DTW_D, default split",
    "JapaneseVowels": "n/a (not found)",
}


def load(name):
    from aeon.datasets import load_classification
    X_tr, y_tr = load_classification(name, split="train")
    X_te, y_te = load_classification(name, split="test")
    return X_tr, np.asarray(y_tr), X_te, np.asarray(y_te)


def to_tsrnn(X):
    """aeon (n, C, T) array or list of (C, T_i) -> tsrnn (n, T, C) array or list of (T_i, C)."""
    if isinstance(X, list):
        return [np.ascontiguousarray(x.T) for x in X]
    return np.ascontiguousarray(np.transpose(X, (0, 2, 1)))


def subset(X, idx):
    return [X[i] for i in idx] if isinstance(X, list) else X[idx]


def warm_idx(y, k=8):
    """Up to ``k`` indices covering every class first (a warm-up fit needs 2+ classes)."""
    first = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)]
    rest = [i for i in range(len(y)) if i not in first]
    return np.array((first + rest)[:max(k, len(first))])


def make_params(cfg, n, seed):
    p = dict(cfg)
    bs = p.get("batch_size")
    if isinstance(bs, str) and bs != "auto":
        p["batch_size"] = int(eval(bs, {"__builtins__": {}}, {"n": n, "min": min, "max": max}))
    p["random_state"] = seed
    return p


def fit_predict_rnn(cfg, seed, Xtr, ytr, Xte):
    from tsrnn import RNNClassifier
    n = len(Xtr)
    clf = RNNClassifier(**make_params(cfg, n, seed))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Xtr, ytr)
        pred = clf.predict(Xte)
    return pred, time.perf_counter() - t0, clf


def warm_up_rnn(cfg, Xtr, ytr):
    """Compile the numba kernels this configuration uses, outside the timings."""
    idx = warm_idx(ytr)
    c = dict(cfg, max_iter=1)
    c.pop("batch_size", None)
    fit_predict_rnn(c, 0, subset(Xtr, idx), ytr[idx], subset(Xtr, idx))


def run_rnn(name, cfg, seed, Xtr, ytr, Xte, yte, cv):
    pred, secs, clf = fit_predict_rnn(cfg, seed, Xtr, ytr, Xte)
    res = dict(method=f"tsrnn:{name}", seed=seed, config=cfg, acc=float(np.mean(pred == yte)),
               secs=secs, n_iter=int(clf.n_iter_),
               batch_size=make_params(cfg, len(Xtr), seed).get("batch_size", "auto"))
    if cv:
        from sklearn.model_selection import StratifiedKFold
        accs, t0 = [], time.perf_counter()
        for tr, va in StratifiedKFold(cv, shuffle=True, random_state=seed).split(np.zeros(len(ytr)), ytr):
            p, _, _ = fit_predict_rnn(cfg, seed, subset(Xtr, tr), ytr[tr], subset(Xtr, va))
            accs.append(float(np.mean(p == ytr[va])))
        res.update(cv_acc=float(np.mean(accs)), cv_folds=accs, cv_secs=time.perf_counter() - t0)
    return res


def run_dtw(X_tr, y_tr, X_te, y_te):
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
    mk = lambda: KNeighborsTimeSeriesClassifier(distance="dtw", n_neighbors=1)
    w = warm_idx(y_tr, 4)
    mk().fit(subset(X_tr, w), y_tr[w]).predict(subset(X_te, np.arange(2)))  # JIT
    t0 = time.perf_counter()
    pred = mk().fit(X_tr, y_tr).predict(X_te)
    return dict(method="1NN-DTW", seed=None, acc=float(np.mean(pred == y_te)),
                secs=time.perf_counter() - t0, note="aeon dtw, full window")


def run_minirocket(X_tr, y_tr, X_te, y_te, seed):
    from aeon.classification.convolution_based import MiniRocketClassifier
    note = "aeon MiniRocketClassifier"
    if isinstance(X_tr, list):
        from aeon.transformations.collection.unequal_length import Padder
        L = max(x.shape[1] for x in list(X_tr) + list(X_te))
        pad = Padder(padded_length=L, fill_value=0)
        X_tr, X_te = pad.fit_transform(X_tr), pad.transform(X_te)
        note += f", zero-padded at the end to length {L} (aeon Padder)"
    w = warm_idx(y_tr, 10)
    MiniRocketClassifier(random_state=seed).fit(X_tr[w], y_tr[w]).predict(X_te[:2])  # JIT
    t0 = time.perf_counter()
    pred = MiniRocketClassifier(random_state=seed).fit(X_tr, y_tr).predict(X_te)
    return dict(method="MiniRocket", seed=seed, acc=float(np.mean(pred == y_te)),
                secs=time.perf_counter() - t0, note=note)


def fmt(v, spec=".3f"):
    return "n/a" if v is None else format(v, spec)


def summarise(rows, metric="acc"):
    """Mean over seeds per method of ``metric`` (its sd, its ``cv_`` form when there),
    the seconds, and for tsrnn the epochs and batch."""
    out = {}
    for r in rows:
        out.setdefault(r["method"], []).append(r)
    summ = {}
    for m, rs in out.items():
        s = {metric: float(np.mean([r[metric] for r in rs])),
             "secs": float(np.mean([r["secs"] for r in rs])), "n": len(rs),
             f"{metric}_sd": float(np.std([r[metric] for r in rs]))}
        if f"cv_{metric}" in rs[0]:
            s[f"cv_{metric}"] = float(np.mean([r[f"cv_{metric}"] for r in rs]))
        if "n_iter" in rs[0]:
            s["n_iter"] = float(np.mean([r["n_iter"] for r in rs]))
            s["batch_size"] = rs[0]["batch_size"]
        s["note"] = rs[0].get("note", "")
        summ[m] = s
    return summ


def print_table(ds, info, summ):
    pub = PUBLISHED[ds]
    print(f"\n### {ds}  ({info})")
    print("| method | test acc | (sd over seeds) | CV acc on train | fit+predict s | epochs | batch | note |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for m, s in summ.items():
        print(f"| {m} | {s['acc']:.3f} | {s['acc_sd']:.3f} (n={s['n']}) | {fmt(s.get('cv_acc'))} | "
              f"{s['secs']:.2f} | {fmt(s.get('n_iter'), '.0f')} | {s.get('batch_size', '')} | {s['note']} |")
    print(f"| published 1NN-DTW | {fmt(pub['dtw'])} | | | | | | {DTW_SOURCE[ds]} |")
    print(f"| published FCN (Fawaz 2019) | {fmt(pub['fcn'])} | | | | | | mean of 10 runs |")
    print(f"| published ResNet (Fawaz 2019) | {fmt(pub['resnet'])} | | | | | | mean of 10 runs |")
    if pub["resnet_ruiz"] is not None:
        print(f"| published ResNet (Ruiz 2021) | {fmt(pub['resnet_ruiz'])} | | | | | | default split |")


def print_summary(summaries):
    """Whether the default RNNClassifier reaches 1-NN DTW and is within 3 points of MiniRocket."""
    if not all({"tsrnn:default", "1NN-DTW", "MiniRocket"} <= set(s["methods"]) for s in summaries.values()):
        return
    print("\nSummary (default RNNClassifier, mean test accuracy over seeds, vs the measured baselines):\n")
    for ds, s in summaries.items():
        m = s["methods"]
        d, dtw, mr = m["tsrnn:default"]["acc"], m["1NN-DTW"]["acc"], m["MiniRocket"]["acc"]
        print(f"- {ds}: default {d:.3f} | reaches 1NN-DTW ({dtw:.3f}): {'yes' if d >= dtw else 'no'}"
              f" | within 3 points of MiniRocket ({mr:.3f}): {'yes' if d >= mr - 0.03 else 'no'}")


def report(paths):
    """Markdown tables merged from saved ``--json`` files (no measuring)."""
    merged, env = {}, []
    for p in paths:
        with open(p) as f:
            d = json.load(f)
        env.append((os.path.basename(p), d["env"].get("total_secs"), d["env"].get("loadavg_start"),
                    d["env"].get("loadavg_end"), d["seeds"], d["cv"]))
        for ds, s in d["summaries"].items():
            merged.setdefault(ds, dict(info=s["info"], methods={}))["methods"].update(s["methods"])
    for e in env:
        print(f"- `{e[0]}`: {e[1]:.0f} s, seeds {e[4]}, cv {e[5]}, load average start "
              f"{[round(x, 2) for x in e[2]]} end {[round(x, 2) for x in e[3]]}")
    for ds, s in merged.items():
        print_table(ds, s["info"], s["methods"])
    dss = list(merged)
    print("\n### All datasets: test accuracy / 5-fold CV accuracy on the train split (mean over seeds)\n")
    print("| method | " + " | ".join(dss) + " | mean test | mean CV | sum of fit+predict s |")
    print("|---|" + "---:|" * (len(dss) + 3))
    methods = []
    for s in merged.values():
        methods += [m for m in s["methods"] if m not in methods]
    for m in methods:
        cells, te, cv, secs = [], [], [], 0.0
        for ds in dss:
            r = merged[ds]["methods"].get(m)
            if r is None:
                cells.append("")
                continue
            te.append(r["acc"])
            secs += r["secs"]
            if r.get("cv_acc") is not None:
                cv.append(r["cv_acc"])
            cells.append(f"{r['acc']:.3f} / {fmt(r.get('cv_acc'))}")
        mcv = fmt(float(np.mean(cv))) if len(cv) == len(dss) else "n/a"
        print(f"| {m} | " + " | ".join(cells) + f" | {np.mean(te):.3f} | {mcv} | {secs:.1f} |")
    for key, lab in (("dtw", "published 1NN-DTW"), ("fcn", "published FCN (Fawaz 2019)"),
                     ("resnet", "published ResNet (Fawaz 2019)")):
        print(f"| {lab} | " + " | ".join(fmt(PUBLISHED[ds][key]) for ds in dss) + " | | | |")
    print_summary(merged)


def parse_args(argv, doc, datasets, estimator, baselines):
    """(args, configs, seeds) of the command line shared with ``bench_regress.py``:
    ``configs`` the ``(name, params)`` of each tsrnn configuration to run."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--datasets", default=",".join(datasets))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--tsrnn", action="append", default=[], metavar="NAME=JSON",
                    help=f"extra {estimator} configuration (repeatable)")
    ap.add_argument("--no-default", action="store_true", help=f"skip the default {estimator}")
    ap.add_argument("--no-baselines", action="store_true", help=f"skip {baselines}")
    ap.add_argument("--cv", type=int, default=0, help="K-fold CV on the train split per tsrnn config")
    ap.add_argument("--json", default=None)
    ap.add_argument("--report", nargs="+", metavar="JSON",
                    help="only print merged markdown tables of saved --json files")
    a = ap.parse_args(argv)
    configs = [] if a.no_default else [("default", {})]
    for spec in a.tsrnn:
        name, _, js = spec.partition("=")
        configs.append((name, json.loads(js)))
    return a, configs, [int(s) for s in a.seeds.split(",")]


def main(argv=None):
    a, configs, seeds = parse_args(argv, __doc__, DATASETS, "RNNClassifier",
                                   "1-NN DTW and MiniRocket")
    if a.report:
        return report(a.report)
    datasets = a.datasets.split(",")

    import aeon
    import numba
    import sklearn

    import tsrnn
    env = dict(python=sys.version.split()[0], numpy=np.__version__, numba=numba.__version__,
               sklearn=sklearn.__version__, aeon=aeon.__version__,
               tsrnn=getattr(tsrnn, "__version__", "?"), cpus=os.cpu_count(),
               loadavg_start=os.getloadavg())
    print("env:", env)
    print("configs:", configs, "seeds:", seeds, "cv:", a.cv)
    all_rows, summaries = {}, {}
    t_all = time.perf_counter()
    for ds in datasets:
        X_tr, y_tr, X_te, y_te = load(ds)
        ragged = isinstance(X_tr, list)
        if ragged:
            lens = [x.shape[1] for x in list(X_tr) + list(X_te)]
            shape = f"{X_tr[0].shape[0]} channels, lengths {min(lens)}-{max(lens)}"
        else:
            shape = f"{X_tr.shape[1]} channels, length {X_tr.shape[2]}"
        info = f"train {len(y_tr)}, test {len(y_te)}, {len(np.unique(y_tr))} classes, {shape}"
        Xtr, Xte = to_tsrnn(X_tr), to_tsrnn(X_te)
        rows = []
        if not a.no_baselines:
            rows.append(run_dtw(X_tr, y_tr, X_te, y_te))
            print(f"  {ds} 1NN-DTW: acc {rows[-1]['acc']:.3f} {rows[-1]['secs']:.1f}s", flush=True)
            for s in seeds:
                rows.append(run_minirocket(X_tr, y_tr, X_te, y_te, s))
                print(f"  {ds} MiniRocket seed {s}: acc {rows[-1]['acc']:.3f} {rows[-1]['secs']:.1f}s",
                      flush=True)
        for name, cfg in configs:
            warm_up_rnn(cfg, Xtr, y_tr)
            for s in seeds:
                r = run_rnn(name, cfg, s, Xtr, y_tr, Xte, y_te, a.cv)
                rows.append(r)
                print(f"  {ds} {r['method']} seed {s}: acc {r['acc']:.3f} cv {fmt(r.get('cv_acc'))} "
                      f"{r['secs']:.1f}s epochs {r['n_iter']}", flush=True)
        summ = summarise(rows)
        print_table(ds, info, summ)
        all_rows[ds], summaries[ds] = rows, dict(info=info, methods=summ)

    print_summary(summaries)
    env["loadavg_end"] = os.getloadavg()
    env["total_secs"] = time.perf_counter() - t_all
    print(f"\ntotal {env['total_secs']:.0f}s, loadavg start {env['loadavg_start']} end {env['loadavg_end']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(env=env, configs=configs, seeds=seeds, cv=a.cv, published=PUBLISHED,
                           dtw_source=DTW_SOURCE, results=all_rows, summaries=summaries), f, indent=1,
                      default=str)


if __name__ == "__main__":
    main()
