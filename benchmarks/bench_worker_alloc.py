"""One fit in the main process, in a plain thread, under Dask's allocator setting, in a Dask worker.

Dask's nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which pins
glibc's mmap threshold at 128 KiB: every buffer of 128 KiB or more becomes a
fresh ``mmap`` with its page faults.  When the kernels allocated their scratch
per chunk and call, a GRU fit ran 1.8x slower in a Dask worker, and tsrnn lifted
the thresholds during kernel calls (``mallopt``).  Since the scratch of a fit is
allocated once, that workaround is gone; this script checks that the slowdown
is gone too.

The fit: ``RNNRegressor(cell="gru", hidden_size=64, max_iter=30,
early_stopping=False, random_state=0)`` on the weather windows (temp_max, lags
14), best of ``--repeats``, after an untimed warm-up fit in the same place.

Usage::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_worker_alloc.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import warnings


def fit_seconds(repeats=3):
    """Best wall time of the fit here (after a warm-up fit)."""
    import numpy as np

    from tsrnn import RNNRegressor
    from tsrnn.datasets import load_weather
    from tsrnn.windowing import make_windows

    Xw, yw = make_windows(load_weather(), target="temp_max", lags=14, horizon=1)
    X, y = Xw.to_numpy(), yw.to_numpy()[:, 0]
    best = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(repeats + 1):
            t0 = time.perf_counter()
            RNNRegressor(cell="gru", hidden_size=64, max_iter=30, early_stopping=False,
                         random_state=0).fit(X, y)
            if k:
                best = min(best, time.perf_counter() - t0)
    return best


def in_thread(repeats):
    out = {}
    t = threading.Thread(target=lambda: out.update(s=fit_seconds(repeats)))
    t.start()
    t.join()
    return out["s"]


def in_subprocess(repeats, **env):
    code = f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); " \
           f"import bench_worker_alloc as b; print(b.fit_seconds({repeats}))"
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env),
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def in_dask_worker(repeats):
    from distributed import Client, LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            env = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
            seconds = client.submit(fit_seconds, repeats, pure=False).result()
    return seconds, list(env.values())[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    import tsrnn

    print(f"tsrnn {tsrnn.__version__} from {os.path.dirname(tsrnn.__file__)}")
    rows = [("main process", fit_seconds(args.repeats)),
            ("plain thread", in_thread(args.repeats)),
            ("subprocess, MALLOC_TRIM_THRESHOLD_=65536",
             in_subprocess(args.repeats, MALLOC_TRIM_THRESHOLD_="65536"))]
    dask, trim = in_dask_worker(args.repeats)
    rows.append((f"Dask worker (its MALLOC_TRIM_THRESHOLD_={trim})", dask))
    print("| where | GRU fit (s) | vs main |\n|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {s:.3f} | {s / rows[0][1]:.2f}x |")


if __name__ == "__main__":
    main()
