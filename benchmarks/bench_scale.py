"""Scaling out: many-series fits and a grid search, serial vs joblib/loky vs a local Dask cluster.

Two workloads, each timed with ``time.perf_counter`` (best of ``--repeats``):

1. **One model per series.** ``fit_many(RNNForecaster(lags=24, horizon=7,
   estimator=RNNForecaster.default_estimator(hidden_size=16, max_iter=30), random_state=0),
   panel)`` on a synthetic wide
   panel (``--series`` columns, default 200, of ``--obs`` daily observations:
   AR(2) noise plus weekly and yearly seasonality, with a random level, scale
   and phase per series), run

   - serially (``n_jobs=1``: joblib's sequential backend, no workers);
   - on a ``distributed.LocalCluster(processes=True, n_workers=1,
     threads_per_worker=1)`` through ``joblib.parallel_config(backend="dask")``
     and ``n_jobs=-1``;
   - the same with ``n_workers=2``.

   ``predict_many(models)`` is timed once, serially.  The forecasts of the
   Dask-fitted models are compared with the serial ones (they should be
   bitwise identical).

2. **GridSearchCV of 16 candidates** (hidden_size 8/16/32/64 x
   learning_rate_init 1e-3/3e-3 x cell lstm/gru) of ``RNNRegressor(max_iter=30,
   early_stopping=False, random_state=0)``, ``cv=TimeSeriesSplit(n_splits=3)``,
   so 48 fits, on ``make_windows(load_weather(), target="temp_max", lags=14,
   horizon=1)``; ``refit=False``, so that the timed work is exactly the 48
   parallel fits (a refit would add the same serial fit to every mode).  Run
   serially (``n_jobs=1``), locally (``n_jobs=-1``: loky, one process per
   core) and on a ``LocalCluster(processes=True, n_workers=2,
   threads_per_worker=1)``.  ``cv_results_["mean_test_score"]`` must be
   bitwise identical across the three.

Every parallel pool is started and warmed (each worker fits a tiny model of
every cell used, loading the Numba kernels from the cache) before it is timed;
start-up and warm-up times are reported separately, as are the workers'
Numba cache hits and misses.  Derived columns:

- speedup: the serial wall time over the mode's wall time (and, for Dask,
  over the 1-worker time);
- overhead per task: ``(wall time x workers - serial wall time) / tasks``,
  the seconds each task costs on top of its serial compute (scheduling,
  serialisation, result transfer, idle workers at the end); with only two
  cores, the scheduler and the client compete with the workers for CPU, and
  that shows up here too;
- throughput: series (or fits) per second.

Usage (with the Numba cache warm, on an otherwise idle machine)::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_scale.py --out scale.md
    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_scale.py --quick   # smoke test, < 1 min

``--quick``: 20 series, ``max_iter=5``, 4 candidates (12 fits), one repeat.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import time
import warnings

import numpy as np
import pandas as pd

CELLS = ("lstm", "gru")


# --------------------------------------------------------------------- data
def make_panel(n_series, n_obs, seed=0):
    """Wide panel: one column per series, daily DatetimeIndex, AR(2) + seasonality.

    Each series is ``level + scale * (ar2 + a_w * weekly + a_y * yearly)`` with
    AR coefficients, amplitudes, phases, level and scale drawn per series from
    ``numpy.random.RandomState(seed)``.
    """
    rng = np.random.RandomState(seed)
    t = np.arange(n_obs)
    burn = 50
    cols = {}
    for i in range(n_series):
        phi1, phi2 = rng.uniform(0.3, 0.8), rng.uniform(-0.3, 0.1)
        e = rng.standard_normal(n_obs + burn)
        x = np.zeros(n_obs + burn)
        for k in range(2, n_obs + burn):
            x[k] = phi1 * x[k - 1] + phi2 * x[k - 2] + e[k]
        weekly = rng.uniform(0.5, 2.0) * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 2 * np.pi))
        yearly = rng.uniform(0.0, 3.0) * np.sin(2 * np.pi * t / 365.25 + rng.uniform(0, 2 * np.pi))
        level, scale = rng.uniform(10, 100), rng.uniform(0.5, 5.0)
        cols[f"s{i:03d}"] = level + scale * (x[burn:] + weekly + yearly)
    index = pd.date_range("2020-01-01", periods=n_obs, freq="D", name="date")
    return pd.DataFrame(cols, index=index)


def weather_windows():
    from tsrnn.datasets import load_weather
    from tsrnn.windowing import make_windows

    Xw, yw = make_windows(load_weather(), target="temp_max", lags=14, horizon=1)
    return Xw, yw.to_numpy().ravel()


# ------------------------------------------------------------------ helpers
def quiet():
    """Silence ConvergenceWarning (fixed ``max_iter`` is the point here) in this process."""
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)


def warm():
    """Tiny fits of every model used, so that this process has loaded the Numba kernels.

    Run in the main process, on every Dask worker (``client.run``) and in the
    loky workers; returns this process's Numba cache statistics.
    """
    quiet()
    from tsrnn import RNNForecaster, RNNRegressor

    y = make_panel(1, 80, seed=1)["s000"]
    fc = RNNForecaster(lags=24, horizon=7, random_state=0, estimator=RNNForecaster.default_estimator(
        hidden_size=4, max_iter=2)).fit(y)
    fc.predict()
    rng = np.random.RandomState(0)
    X = rng.standard_normal((64, 14))
    for cell in CELLS:
        reg = RNNRegressor(cell=cell, hidden_size=4, max_iter=2, random_state=0)
        reg.fit(X, X[:, -1]).predict(X)
    return kernel_stats()


def kernel_stats():
    """This process's Numba cache hits and misses (for ``client.run``)."""
    from tsrnn._engine.jit import compile_stats

    return compile_stats()


def joblib_cpu_count():
    import joblib

    return joblib.cpu_count()


def warm_loky(n_workers):
    """Start joblib's reusable loky executor and warm each of its workers (best effort:
    enough slow tasks that every worker gets some)."""
    from joblib import Parallel, delayed

    def task():
        stats = warm()
        time.sleep(0.2)
        return os.getpid(), stats

    out = Parallel(n_jobs=-1)(delayed(task)() for _ in range(3 * n_workers))
    return dict(out)


def best_of(repeats, fn):
    """(min wall time, result of the last call)."""
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


@contextlib.contextmanager
def dask_cluster(n_workers):
    """A warmed LocalCluster; yields ``(client, start-up seconds, warm-up seconds, stats)``."""
    from distributed import Client, LocalCluster

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # port / deprecation chatter
        cluster = LocalCluster(processes=True, n_workers=n_workers, threads_per_worker=1,
                               dashboard_address=None)
    with cluster, Client(cluster) as client:
        client.wait_for_workers(n_workers)
        startup = time.perf_counter() - t
        t = time.perf_counter()
        stats = client.run(warm)
        warmup = time.perf_counter() - t
        yield client, startup, warmup, stats


def cache_note(stats):
    """``hits/misses`` summed over workers."""
    hits = sum(s["hits"] for s in stats.values())
    misses = sum(s["misses"] for s in stats.values())
    return f"{hits}/{misses}"


def overhead(wall, workers, serial, tasks):
    return (wall * workers - serial) / tasks


def machine_info():
    import dask
    import distributed
    import joblib
    import numba
    import sklearn

    import tsrnn

    try:
        here = os.path.dirname(os.path.abspath(__file__))
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, text=True,
                                capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, text=True, capture_output=True, check=True).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{platform.processor() or platform.machine()}, {cores} cores available "
            f"(os.cpu_count() {os.cpu_count()}, joblib.cpu_count() {joblib.cpu_count()}); "
            f"Python {platform.python_version()}, numba {numba.__version__}, "
            f"numpy {np.__version__}, pandas {pd.__version__}, scikit-learn {sklearn.__version__}, "
            f"joblib {joblib.__version__}, dask {dask.__version__}, "
            f"distributed {distributed.__version__}; tsrnn {tsrnn.__version__} at {commit}; "
            f"NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '(unset)')}.")


# -------------------------------------------------------------- workloads
def bench_many(args, forecaster, panel, clusters):
    """fit_many serial and on Dask clusters; returns Markdown lines."""
    from joblib import parallel_config

    from tsrnn.model_selection import fit_many, predict_many

    n = panel.shape[1]
    serial, models = best_of(args.repeats, lambda: fit_many(forecaster, panel, n_jobs=1))
    t_pred, reference = best_of(1, lambda: predict_many(models, n_jobs=1))
    rows = [("serial (`n_jobs=1`)", 1, serial, "", "")]
    n_loky = joblib_cpu_count()
    warm_loky(n_loky)
    loky, lmodels = best_of(args.repeats, lambda: fit_many(forecaster, panel, n_jobs=-1))
    same = predict_many(lmodels, n_jobs=1).equals(reference)
    rows.append((f"local loky (`n_jobs=-1`, {n_loky} processes)", n_loky, loky, None,
                 "yes" if same else "**NO**"))
    setup = []
    one_worker = None
    for n_workers in clusters:
        with dask_cluster(n_workers) as (client, startup, warmup, stats):
            with parallel_config(backend="dask"):
                wall, dmodels = best_of(args.repeats,
                                        lambda: fit_many(forecaster, panel, n_jobs=-1))
            after = client.run(kernel_stats)
        same = predict_many(dmodels, n_jobs=1).equals(reference)
        setup.append(f"| Dask, {n_workers} worker{'s' * (n_workers > 1)} | {startup:.2f} | "
                     f"{warmup:.2f} | {cache_note(stats)} | {cache_note(after)} |")
        if n_workers == 1:
            one_worker = wall
        rows.append((f"Dask LocalCluster, {n_workers} worker{'s' * (n_workers > 1)}", n_workers,
                     wall, one_worker, "yes" if same else "**NO**"))
    lines = [
        f"### fit_many: {n} series x one RNNForecaster each",
        "",
        (f"Panel: {n} series x {panel.shape[0]} daily observations; {forecaster!r}; "
        f"best of {args.repeats}."),
        "",
        ("| mode | workers | wall (s) | speedup vs serial | speedup vs 1 worker | "
        "overhead per task (ms) | series/s | forecasts = serial |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, workers, wall, base1, same in rows:
        is_serial = name.startswith("serial")
        vs1 = f"{base1 / wall:.2f}x" if base1 and not is_serial else "-"
        ovh = "-" if is_serial else f"{1e3 * overhead(wall, workers, serial, n):.1f}"
        lines.append(f"| {name} | {workers} | {wall:.2f} | {serial / wall:.2f}x | {vs1} | {ovh} | "
                     f"{n / wall:.1f} | {same or '-'} |")
    lines.append(f"| `predict_many(models)`, serial | 1 | {t_pred:.3f} | | | | "
                 f"{n / t_pred:.0f} | |")
    lines += ["",
              ("| cluster | start-up (s) | warm-up (s) | worker cache hits/misses after warm-up "
               "| after the runs |"),
              "|---|---|---|---|---|", *setup, ""]
    return lines


def bench_search(args, grid, clusters):
    """GridSearchCV serial, loky and Dask; returns Markdown lines."""
    import joblib
    from joblib import parallel_config
    from sklearn.model_selection import GridSearchCV, ParameterGrid, TimeSeriesSplit

    from tsrnn import RNNRegressor

    Xw, yw = weather_windows()
    cv = TimeSeriesSplit(n_splits=3)
    n_fits = len(ParameterGrid(grid)) * cv.get_n_splits()
    est = RNNRegressor(max_iter=args.max_iter, random_state=0, early_stopping=False)

    def search(n_jobs):
        return GridSearchCV(est, grid, cv=cv, n_jobs=n_jobs, refit=False).fit(Xw, yw)

    serial, s_serial = best_of(args.repeats, lambda: search(1))
    n_loky = joblib.cpu_count()
    t = time.perf_counter()
    loky_stats = warm_loky(n_loky)
    loky_warm = time.perf_counter() - t
    local, s_local = best_of(args.repeats, lambda: search(-1))
    rows = [("serial (`n_jobs=1`)", 1, serial),
            (f"local loky (`n_jobs=-1`, {n_loky} processes)", n_loky, local)]
    setup = [(f"| loky, {n_loky} processes (reusable executor) | {loky_warm:.2f} (start + warm) | "
             f"| {cache_note(loky_stats)} ({len(loky_stats)} workers reached) |")]
    scores = {"serial": s_serial.cv_results_["mean_test_score"],
              "loky": s_local.cv_results_["mean_test_score"]}
    for n_workers in clusters:
        with (dask_cluster(n_workers) as (_client, startup, warmup, stats),
              parallel_config(backend="dask")):
            wall, s_dask = best_of(args.repeats, lambda: search(-1))
        setup.append(f"| Dask, {n_workers} worker{'s' * (n_workers > 1)} | {startup:.2f} | "
                     f"{warmup:.2f} | {cache_note(stats)} |")
        rows.append((f"Dask LocalCluster, {n_workers} worker{'s' * (n_workers > 1)}", n_workers,
                     wall))
        scores[f"dask{n_workers}"] = s_dask.cv_results_["mean_test_score"]
    lines = [
        (f"### GridSearchCV: {len(ParameterGrid(grid))} candidates x {cv.get_n_splits()} folds "
        f"= {n_fits} fits"),
        "",
        (f"Weather windows {Xw.shape[0]} x {Xw.shape[1]} (temp_max, lags 14, horizon 1); "
        f"{est!r}; grid {grid}; TimeSeriesSplit(n_splits=3), refit=False; best of {args.repeats}."),
        "",
        ("| mode | workers | wall (s) | speedup vs serial | speedup vs loky | "
        "overhead per fit (ms) | fits/s |"),
        "|---|---|---|---|---|---|---|",
    ]
    for name, workers, wall in rows:
        vs_loky = f"{local / wall:.2f}x" if name.startswith("Dask") else "-"
        ovh = "-" if name.startswith("serial") else \
            f"{1e3 * overhead(wall, workers, serial, n_fits):.1f}"
        lines.append(f"| {name} | {workers} | {wall:.2f} | {serial / wall:.2f}x | {vs_loky} | "
                     f"{ovh} | {n_fits / wall:.1f} |")
    ref = scores["serial"]
    checks = []
    for key, value in scores.items():
        if key != "serial":
            equal = np.array_equal(value, ref)
            checks.append(f"{key} {'==' if equal else '!='} serial")
    dask_keys = [k for k in scores if k.startswith("dask")]
    local_eq_dask = all(np.array_equal(scores["loky"], scores[k]) for k in dask_keys)
    lines += ["", (f"`mean_test_score` bitwise identical, local (loky) vs Dask: "
              f"**{'yes' if local_eq_dask else 'NO'}** ({'; '.join(checks)}); "
              f"best candidate {s_local.cv_results_['params'][int(np.argmax(ref))]}, "
              f"R^2 {ref.max():.4f}."),
              "", "| pool | start-up (s) | warm-up (s) | worker cache hits/misses after warm-up |",
              "|---|---|---|---|", *setup, ""]
    return lines, local_eq_dask


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=None, help="series in the panel (default 200)")
    ap.add_argument("--obs", type=int, default=300, help="observations per series")
    ap.add_argument("--max-iter", type=int, default=None, help="epochs per fit (default 30)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per mode, best kept "
                    "(default 3)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 20 series, max_iter 5, 4 candidates, 1 repeat")
    ap.add_argument("--skip", choices=["many", "search"], action="append", default=[],
                    help="skip a workload (repeatable)")
    ap.add_argument("--out", help="also write the report to this Markdown file")
    args = ap.parse_args(argv)
    q = args.quick
    args.series = args.series or (20 if q else 200)
    args.max_iter = args.max_iter or (5 if q else 30)
    args.repeats = args.repeats or (1 if q else 3)
    grid = ({"hidden_size": [8, 16], "cell": list(CELLS)} if q else
            {"hidden_size": [8, 16, 32, 64], "learning_rate_init": [1e-3, 3e-3],
             "cell": list(CELLS)})

    quiet()
    t0 = time.perf_counter()
    warm()  # the main process loads (or, cache cold, compiles) its kernels untimed
    from tsrnn import RNNForecaster

    report = ["## Scaling out: fit_many and GridSearchCV on joblib/loky and Dask", "",
              machine_info(), ""]
    ok = True
    if "many" not in args.skip:
        network = RNNForecaster.default_estimator(hidden_size=16, max_iter=args.max_iter)
        forecaster = RNNForecaster(lags=24, horizon=7, estimator=network, random_state=0)
        panel = make_panel(args.series, args.obs, seed=0)
        report += bench_many(args, forecaster, panel, clusters=(1, 2))
    if "search" not in args.skip:
        lines, ok = bench_search(args, grid, clusters=(2,))
        report += lines
    report.append(f"Total benchmark time {time.perf_counter() - t0:.0f} s.")
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
