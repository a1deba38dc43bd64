"""Model files: peak memory and time of save and load for a large model (issue 14).

Builds an RNNRegressor whose network holds about ``--mib`` MiB of float32
parameters (fitted for one epoch on a few windows), saves it, and reports in a
fresh process each for save and for load the peak resident memory above the
process's baseline, the peak of Python and NumPy allocations (``tracemalloc``) and
the wall time, next to the model's own size.  Run it
against another checkout (``--repo``) for a before/after comparison: the same
model is written by that checkout too.

Usage::

    python benchmarks/bench_files.py --mib 300 [--repo /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, resource, sys, time, tracemalloc, warnings
warnings.simplefilter("ignore")
import numpy as np
import tsrnn
import tsrnn.persistence  # noqa: F401 - its imports (pandas, scikit-learn) before the baseline
step, path, hidden = sys.argv[1], sys.argv[2], int(sys.argv[3])
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
if step == "save":
    X = np.random.default_rng(0).normal(size=(4, 3, 1)); y = X[:, -1, 0]
    reg = tsrnn.RNNRegressor(hidden_size=hidden, cell="rnn", max_iter=1, batch_size=4,
                             random_state=0).fit(X, y)
    base = rss(); tracemalloc.start(); t = time.perf_counter()
    tsrnn.save(reg, path)
else:
    base = rss(); tracemalloc.start(); t = time.perf_counter()
    reg = tsrnn.load(path)
dt = time.perf_counter() - t
traced = tracemalloc.get_traced_memory()[1]
print(json.dumps({"file": tsrnn.__file__, "step": step, "model_mib": reg.network_.params.nbytes / 2**20,
                  "traced_peak_mib": traced / 2**20, "rss_above_base_mib": rss() - base,
                  "seconds": dt}))
"""


def run(repo, mib):
    # an Elman cell of hidden H holds about H * (H + 3) parameters
    hidden = int((mib * 2**20 / 4) ** 0.5)
    env = dict(os.environ, PYTHONPATH=repo)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.tsrnn")
        for step in ("save", "load"):
            r = subprocess.run([sys.executable, "-c", _CHILD, step, path, str(hidden)],
                               capture_output=True, text=True, env=env, check=True,
                               cwd=tmp)  # not this checkout: -c puts the cwd on sys.path
            out.append(json.loads(r.stdout.strip().splitlines()[-1]))
        size = os.path.getsize(path) / 2**20
    for row in out:
        row["file_mib"] = size
        row["repo"] = repo
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mib", type=float, default=300)
    p.add_argument("--repo", action="append", default=None,
                   help="checkout(s) to measure (default: this one)")
    args = p.parse_args()
    repos = args.repo or [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    print(f"{'checkout':24s} {'step':5s} {'model MiB':>9s} {'file MiB':>8s} "
          f"{'allocated peak MiB':>18s} {'RSS above base MiB':>18s} {'seconds':>7s}")
    for repo in repos:
        for r in run(repo, args.mib):
            print(f"{repo[-24:]:24s} {r['step']:5s} {r['model_mib']:9.0f} {r['file_mib']:8.0f} "
                  f"{r['traced_peak_mib']:18.0f} {r['rss_above_base_mib']:18.0f} "
                  f"{r['seconds']:7.2f}")


if __name__ == "__main__":
    main()
