"""tsrnn vs PyTorch (CPU): one training epoch and one inference pass, per configuration.

For every configuration of the grid

    cell in {rnn, lstm, gru} x hidden in {16, 64, 256} x T in {24, 96}
    x C in {1, 8} x batch in {32, 256} x dtype in {float32, float64}

it times, on N = 4096 random windows, many-to-one with one output:

- **train**: one epoch of minibatches, each forward + MSE loss + BPTT + Adam
  step (tsrnn: ``Network._loss_grad`` + ``Adam.step``; PyTorch: ``nn.LSTM``/
  ``nn.GRU``/``nn.RNN`` + ``nn.Linear``, ``MSELoss``, ``backward``,
  ``torch.optim.Adam``);
- **infer**: forward only over the same 4096 windows in minibatches of the same
  size (PyTorch under ``torch.inference_mode()``).

Both start from identical weights (tsrnn's state dict is copied into the
PyTorch module; the first-batch losses are compared as a check), use the same
thread count ``k`` (``torch.set_num_threads(k)``, tsrnn ``n_jobs=k`` and the
BLAS thread pools limited to ``k``), are warmed up with an untimed batch, and
are timed as the best of a few repeats (fewer for long configurations, one for
the biggest).  Before each library's timings the other's threads get ``SETTLE``
seconds to go idle (both spin for a few milliseconds after their last task).

Throughput is reported against the machine's measured GEMM peak: the matrix
multiply FLOPs of an epoch are about ``6 N T G H (C + H)`` (forward, input and
recurrent weight gradients, back-propagated hidden gradient) with G = 1, 3, 4
gates for rnn, gru, lstm, and ``2 N T G H (C + H)`` for inference.  The peak
is that of SciPy's BLAS (the library Numba's ``np.dot`` calls) on large square
matrices with the same thread count.

It also measures the first-call time (loss_grad + forward) in a fresh process
with an empty Numba cache (compile) and again with that cache (warm start).

Usage::

    NUMBA_CACHE_DIR=/tmp/nbcache_bench python benchmarks/bench_engine.py --quick
    NUMBA_CACHE_DIR=/tmp/nbcache_bench python benchmarks/bench_engine.py \
        --out engine.md --json engine.json

``OPENBLAS_CORETYPE`` (printed in the header) changes which kernels OpenBLAS
uses, hence both the peak and tsrnn's speed; PyTorch uses MKL and ignores it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

N_WINDOWS = 4096
NOISY = 0.2  # background CPU share above which a row is flagged as noisy
SETTLE = 0.05  # seconds between one library's timings and the other's
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
DTYPES = {"float32": np.float32, "float64": np.float64}


# ----------------------------------------------------------------- helpers
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return [x for x in ("avx2", "fma", "avx512f", "avx512_bf16") if x in flags]
    except OSError:
        pass
    return []


def blas_info():
    """OpenBLAS builds loaded (numpy's and scipy's) and the kernel set each picked."""
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS)
    from threadpoolctl import threadpool_info

    out = []
    for d in threadpool_info():
        if d.get("user_api") == "blas":
            lib = os.path.basename(d["filepath"])
            out.append(f"{lib} {d.get('version')} arch={d.get('architecture')}")
    return out


def git_rev():
    """Commit of the tsrnn checkout being measured, with '+dirty' if its sources are edited."""
    import tsrnn

    root = os.path.dirname(os.path.dirname(os.path.abspath(tsrnn.__file__)))
    try:
        rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "tsrnn"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class CpuMeter:
    """CPU used by *other* processes while we measure (the machine may be shared).

    busy jiffies of the whole machine (/proc/stat) minus those of this process
    (/proc/self/stat, all threads), as a fraction of all cores over the wall
    time.  0 = we had the machine to ourselves.  Returns None where /proc is
    missing.
    """

    HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    @staticmethod
    def _read():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
            with open("/proc/self/stat") as f:
                w = f.read().rsplit(")", 1)[1].split()
            return sum(v) - v[3] - v[4], int(w[11]) + int(w[12]), time.perf_counter()
        except (OSError, ValueError, IndexError):
            return None

    def __enter__(self):
        self.start = self._read()
        self.foreign = None
        return self

    def __exit__(self, *exc):
        end = self._read()
        if self.start and end and end[2] > self.start[2]:
            other = (end[0] - self.start[0]) - (end[1] - self.start[1])
            self.foreign = max(0.0, other / self.HZ / (end[2] - self.start[2]) / os.cpu_count())
        return False


def foreign_load(probe=0.5):
    with CpuMeter() as m:
        time.sleep(probe)
    return m.foreign


def wait_idle(max_wait, threshold=0.15):
    """Wait (up to ``max_wait`` s) until other processes use < ``threshold`` of the CPUs."""
    t0 = time.perf_counter()
    load = foreign_load()
    while load is not None and load > threshold and time.perf_counter() - t0 < max_wait:
        time.sleep(1.0)
        load = foreign_load()
    return load, time.perf_counter() - t0


def flops(cell, H, T, C, n, train):
    return (6 if train else 2) * n * T * GATES[cell] * H * (C + H)


def best_time(fn, budget, max_repeats, first=None):
    """Best wall time of ``fn()`` over adaptive repeats.

    ``first`` is an already measured time (counted as one repeat).  Repeats
    stop once ``budget`` seconds are spent or ``max_repeats`` are done, so a
    configuration that takes longer than ``budget`` runs once.
    """
    times = [] if first is None else [first]
    spent = sum(times)
    while len(times) < max_repeats and (not times or spent + min(times) <= budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    return min(times), len(times)


# ----------------------------------------------------------------- GEMM peak
def gemm_peak(threads, n=2048, repeats=5):
    """GFLOP/s of SciPy's sgemm/dgemm (and numpy's matmul) on n x n matrices."""
    import scipy.linalg.blas as sblas
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    res = {}
    with threadpool_limits(limits=threads, user_api="blas"):
        for name, dt in DTYPES.items():
            A = np.asfortranarray(rng.standard_normal((n, n)).astype(dt))
            B = np.asfortranarray(rng.standard_normal((n, n)).astype(dt))
            gemm = sblas.sgemm if dt == np.float32 else sblas.dgemm
            gemm(1.0, A, B)  # warm up (thread pool start, page faults)
            best = min(_timed(lambda: gemm(1.0, A, B)) for _ in range(repeats))
            Ac, Bc = np.ascontiguousarray(A), np.ascontiguousarray(B)
            Ac @ Bc
            best_np = min(_timed(lambda: Ac @ Bc) for _ in range(repeats))
            res[name] = {"scipy": 2 * n ** 3 / best / 1e9, "numpy": 2 * n ** 3 / best_np / 1e9}
    return res


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ----------------------------------------------------------------- first call
_FIRST_CALL = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from tsrnn.nn import Network
t1 = time.perf_counter()
dt = np.dtype(sys.argv[1]).type
k = int(sys.argv[2])
net = Network("lstm", input_size=3, hidden_size=16, dtype=dt, random_state=0)
X = np.random.default_rng(0).normal(size=(64, 12, 3)).astype(dt)
y = X[:, -1, 0]
t2 = time.perf_counter()
net.loss_grad(X, y, "squared_error", n_jobs=k)
t3 = time.perf_counter()
net.forward(X, n_jobs=k)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "loss_grad": t3 - t2, "forward": t4 - t3,
                  "first_call": t4 - t2}))
"""


def first_call_times(threads):
    """Cold (empty Numba cache) and warm first-call times in fresh processes, per dtype."""
    res = {}
    for name in DTYPES:
        cache = tempfile.mkdtemp(prefix="tsrnn_nbcache_")
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        try:
            for state in ("cold", "warm"):
                t0 = time.perf_counter()
                p = subprocess.run([sys.executable, "-c", _FIRST_CALL, name, str(threads)],
                                   env=env, capture_output=True, text=True, check=False)
                wall = time.perf_counter() - t0
                if p.returncode != 0:
                    raise RuntimeError(f"first-call subprocess failed:\n{p.stderr}")
                r = json.loads(p.stdout.strip().splitlines()[-1])
                r["process"] = wall
                res[f"{name}/{state}"] = r
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    return res


# ----------------------------------------------------------------- the two engines
def make_torch(torch, cell, C, H, dt):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
            self.rnn = kind(C, H, 1, batch_first=True)
            self.head = nn.Linear(H, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    return Net().to(torch.float32 if dt == np.float32 else torch.float64)


def run_config(torch, cell, H, T, C, B, dtn, threads, budget, max_repeats):
    from tsrnn._engine.optim import Adam
    from tsrnn.nn import Network

    dt = DTYPES[dtn]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_WINDOWS, T, C)).astype(dt)
    Y = (0.5 * X[:, -1, :1] + 0.1 * rng.standard_normal((N_WINDOWS, 1))).astype(dt)
    starts = list(range(0, N_WINDOWS, B))
    Xb = [X[s:s + B] for s in starts]  # C-contiguous views
    Yb = [Y[s:s + B] for s in starts]

    net = Network(cell, input_size=C, hidden_size=H, num_layers=1, output_size=1, dtype=dt,
                  random_state=0)
    opt = Adam(net.n_params, learning_rate=1e-3, dtype=dt)
    model = make_torch(torch, cell, C, H, dt)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    topt = torch.optim.Adam(model.parameters(), lr=1e-3)
    mse = torch.nn.MSELoss()
    Xt = torch.from_numpy(X)
    Yt = torch.from_numpy(Y)
    Xtb = [Xt[s:s + B] for s in starts]
    Ytb = [Yt[s:s + B] for s in starts]

    # Same weights -> same first-batch loss (parity check, before any update).
    l_ours, _, _ = net._loss_grad(Xb[0], Yb[0], "squared_error", n_jobs=threads)
    with torch.no_grad():
        l_torch = float(mse(model(Xtb[0]), Ytb[0]))
    parity = abs(l_ours - l_torch) / max(abs(l_torch), 1e-30)

    def ours_train(nb=None):
        for xb, yb in zip(Xb[:nb], Yb[:nb]):
            _, g, _ = net._loss_grad(xb, yb, "squared_error", n_jobs=threads)
            opt.step(net.params, g)

    def torch_train(nb=None):
        for xb, yb in zip(Xtb[:nb], Ytb[:nb]):
            topt.zero_grad(set_to_none=True)
            loss = mse(model(xb), yb)
            loss.backward()
            topt.step()

    def ours_infer(nb=None):
        for xb in Xb[:nb]:
            net.forward(xb, n_jobs=threads)

    def torch_infer(nb=None):
        with torch.inference_mode():
            for xb in Xtb[:nb]:
                model(xb)

    res = {"cell": cell, "dtype": dtn, "hidden": H, "T": T, "C": C, "batch": B,
           "threads": threads, "n": N_WINDOWS, "parity_rel_loss_diff": parity}
    for phase, fo, ft in (("train", ours_train, torch_train), ("infer", ours_infer, torch_infer)):
        for lib, fn in (("tsrnn", fo), ("torch", ft)):
            # let the other library's threads go idle first: PyTorch's OpenMP threads and
            # tsrnn's pool spin for a few milliseconds after their last task, and a
            # spinning thread would take a core from the library being timed
            time.sleep(SETTLE)
            fn(1)  # warm-up: one untimed batch (compiles tsrnn on first use)
            with CpuMeter() as meter:
                t, reps = best_time(fn, budget, max_repeats)
            res[f"{phase}_{lib}_s"] = t
            res[f"{phase}_{lib}_reps"] = reps
            res[f"{phase}_{lib}_foreign_cpu"] = meter.foreign
        res[f"{phase}_ratio"] = res[f"{phase}_torch_s"] / res[f"{phase}_tsrnn_s"]
        fl = flops(cell, H, T, C, N_WINDOWS, phase == "train")
        res[f"{phase}_gflops"] = fl / res[f"{phase}_tsrnn_s"] / 1e9
        res[f"{phase}_torch_gflops"] = fl / res[f"{phase}_torch_s"] / 1e9
    return res


# ----------------------------------------------------------------- targets
def overhead_bound(r):
    """Configurations where PyTorch's per-op overhead dominates (target ratio >= 3)."""
    return (r["hidden"] <= 64 and r["batch"] <= 64) or r["hidden"] == 16


def check_targets(rows, first_calls):
    """List of (target, phase, n_pass, n_total, misses)."""
    out = []
    for phase in ("train", "infer"):
        for label, sel, test in (
            ("ratio >= 3 (overhead-bound: H<=64 & batch<=64, or H=16)", overhead_bound,
             lambda r: r[f"{phase}_ratio"] >= 3),
            ("ratio >= 1 (all other configs)", lambda r: not overhead_bound(r),
             lambda r: r[f"{phase}_ratio"] >= 1),
            (">= 60% of GEMM peak at hidden 256", lambda r: r["hidden"] == 256,
             lambda r: r[f"{phase}_pct_peak"] >= 60),
        ):
            sub = [r for r in rows if sel(r)]
            if not sub:
                continue
            miss = [r for r in sub if not test(r)]
            out.append((label, phase, len(sub) - len(miss), len(sub), miss))
    warm = {k: v for k, v in first_calls.items() if k.endswith("/warm")}
    if warm:
        miss = [k for k, v in warm.items() if v["first_call"] >= 2.0]
        out.append(("warm-cache first call < 2 s", "start", len(warm) - len(miss), len(warm),
                    miss))
    return out


def config_name(r):
    return f"{r['cell']} {r['dtype']} H={r['hidden']} T={r['T']} C={r['C']} B={r['batch']}"


# ----------------------------------------------------------------- output
HEAD = ("| cell | dtype | H | T | C | batch | train tsrnn s | train torch s | train ratio | "
        "train GFLOP/s | train % peak | infer tsrnn s | infer torch s | infer ratio | "
        "infer GFLOP/s | infer % peak | bg CPU % |")


def row_md(r):
    return (f"| {r['cell']} | {r['dtype']} | {r['hidden']} | {r['T']} | {r['C']} | {r['batch']} | "
            f"{r['train_tsrnn_s']:.3f} | {r['train_torch_s']:.3f} | {r['train_ratio']:.2f} | "
            f"{r['train_gflops']:.1f} | {r['train_pct_peak']:.0f} | "
            f"{r['infer_tsrnn_s']:.4f} | {r['infer_torch_s']:.4f} | {r['infer_ratio']:.2f} | "
            f"{r['infer_gflops']:.1f} | {r['infer_pct_peak']:.0f} | {bg_str(r)} |")


def background(r):
    """Largest share of the CPUs other processes used during this config's timings."""
    vals = [v for k, v in r.items() if k.endswith("_foreign_cpu") and v is not None]
    return max(vals) if vals else None


def bg_str(r):
    b = background(r)
    return "?" if b is None else f"{100 * b:.0f}" + (" (noisy)" if b > NOISY else "")


def header_lines(info):
    return [
        f"- tsrnn commit: {info['tsrnn_commit']}",
        f"- CPU: {info['cpu']} ({info['cores']} cores; flags: {', '.join(info['flags'])})",
        f"- OPENBLAS_CORETYPE: {info['openblas_coretype']}",
        f"- BLAS: {'; '.join(info['blas'])}",
        f"- numba {info['numba']}, numpy {info['numpy']}, scipy {info['scipy']}, "
        f"torch {info['torch']} (CPU capability {info['torch_cpu']}), python {info['python']}",
        f"- threads: {info['threads']} (torch.set_num_threads, tsrnn n_jobs, BLAS limit); "
        f"N = {N_WINDOWS} windows per epoch",
    ]


def write_markdown(path, info, peaks, first_calls, rows, summary):
    L = ["# tsrnn vs PyTorch: engine benchmark", ""] + header_lines(info) + [""]
    L += ["## GEMM peak (large square GEMM, same thread count)", "",
          "| dtype | SciPy BLAS GFLOP/s (reference) | numpy matmul GFLOP/s |", "|---|---|---|"]
    for k, v in peaks.items():
        L.append(f"| {k} | {v['scipy']:.1f} | {v['numpy']:.1f} |")
    if first_calls:
        L += ["", "## First call in a fresh process (loss_grad + forward, n_jobs = threads)", "",
              "| dtype / cache | import s | loss_grad s | forward s | first call s | process s |",
              "|---|---|---|---|---|---|"]
        for k, v in first_calls.items():
            L.append(f"| {k} | {v['import']:.2f} | {v['loss_grad']:.2f} | {v['forward']:.2f} | "
                     f"{v['first_call']:.2f} | {v['process']:.2f} |")
    L += ["", "## Epoch (train) and inference times", "",
          "Ratio = torch seconds / tsrnn seconds (> 1: tsrnn faster).  GFLOP/s and % peak are "
          "tsrnn's matmul throughput against the SciPy GEMM peak of the dtype.  bg CPU % = "
          "largest share of the CPUs used by other processes during the row's timings (the "
          "machine may be shared; rows above 20% are flagged noisy).", "",
          HEAD, "|" + "---|" * 17]
    L += [row_md(r) for r in rows]
    noisy = [r for r in rows if (background(r) or 0) > NOISY]
    if noisy:
        L += ["", f"{len(noisy)} of {len(rows)} rows were measured while other processes used "
              f"more than {100 * NOISY:.0f}% of the CPUs (flagged 'noisy'): their times are "
              "unreliable, typically pessimistic for tsrnn's two-thread path."]
    L += ["", "## Targets", ""] + summary_lines(summary)
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def summary_lines(summary):
    L = []
    for label, phase, npass, ntot, miss in summary:
        status = "PASS" if not miss else "MISS"
        L.append(f"- {status} [{phase}] {label}: {npass}/{ntot}")
        for m in miss[:40]:
            if isinstance(m, dict):
                L.append(f"    - {config_name(m)}: ratio {m[phase + '_ratio']:.2f}, "
                         f"{m[phase + '_pct_peak']:.0f}% peak, background CPU {bg_str(m)}%")
            else:
                L.append(f"    - {m}")
        if len(miss) > 40:
            L.append(f"    - ... {len(miss) - 40} more")
    return L


# ----------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="k: torch threads = tsrnn n_jobs")
    ap.add_argument("--quick", action="store_true",
                    help="small subset: hidden {16,256}, T 24, C 1, float32 (~1 min)")
    ap.add_argument("--cells", default="rnn,lstm,gru")
    ap.add_argument("--dtypes", default=None, help="comma list (default: float32,float64)")
    ap.add_argument("--hidden", default=None, help="comma list (default: 16,64,256)")
    ap.add_argument("--T", dest="steps", default=None, help="comma list (default: 24,96)")
    ap.add_argument("--C", dest="channels", default=None, help="comma list (default: 1,8)")
    ap.add_argument("--batch", default=None, help="comma list (default: 32,256)")
    ap.add_argument("--budget", type=float, default=3.0,
                    help="seconds of timed repeats per measurement (default 3)")
    ap.add_argument("--max-repeats", type=int, default=5)
    ap.add_argument("--wait-idle", type=float, default=30.0,
                    help="before each config wait up to this many seconds for other processes "
                         "to leave the CPUs (default 30; 0 = never wait)")
    ap.add_argument("--retry-noisy", type=int, default=2,
                    help="after the grid, re-measure rows flagged noisy up to this many times "
                         "(waiting up to 4x --wait-idle for quiet), keeping the quietest run")
    ap.add_argument("--no-first-call", action="store_true", help="skip the compile-time runs")
    ap.add_argument("--out", help="write a Markdown report to this file")
    ap.add_argument("--json", help="write all results as JSON to this file")
    args = ap.parse_args(argv)

    def ints(s, default):
        return [int(x) for x in s.split(",")] if s else default

    k = args.threads
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    for c in cells:
        if c not in GATES:
            ap.error(f"unknown cell {c!r}")
    if args.quick:
        dtypes, hiddens, steps, chans = ["float32"], [16, 256], [24], [1]
    else:
        dtypes, hiddens, steps, chans = ["float32", "float64"], [16, 64, 256], [24, 96], [1, 8]
    if args.dtypes:
        dtypes = [d.strip() for d in args.dtypes.split(",")]
    for d in dtypes:
        if d not in DTYPES:
            ap.error(f"unknown dtype {d!r}")
    hiddens = ints(args.hidden, hiddens)
    steps = ints(args.steps, steps)
    chans = ints(args.channels, chans)
    batches = ints(args.batch, [32, 256])

    import numba
    import scipy
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(k)
    info = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "flags": cpu_flags(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "blas": blas_info(), "numba": numba.__version__, "numpy": np.__version__,
        "scipy": scipy.__version__, "torch": torch.__version__,
        "torch_cpu": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(), "threads": k,
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR", "(unset)"),
        "tsrnn_commit": git_rev(),
    }
    print("# tsrnn vs PyTorch engine benchmark")
    for line in header_lines(info):
        print(line)
    load = foreign_load(1.0)
    if load is not None and load > NOISY:
        print(f"WARNING: other processes are using {100 * load:.0f}% of the CPUs; timings will "
              f"be noisy (rows are flagged; see the 'bg CPU %' column)")
    sys.stdout.flush()

    if args.wait_idle > 0:
        wait_idle(4 * args.wait_idle)
    with CpuMeter() as meter:
        peaks = gemm_peak(k)
    peaks_bg = meter.foreign
    for name, v in peaks.items():
        print(f"GEMM peak {name}: SciPy BLAS {v['scipy']:.1f} GFLOP/s, "
              f"numpy {v['numpy']:.1f} GFLOP/s")
    sys.stdout.flush()

    first_calls = {}
    if not args.no_first_call:
        t0 = time.perf_counter()
        first_calls = first_call_times(k)
        for key, v in first_calls.items():
            print(f"first call {key}: {v['first_call']:.2f} s (import {v['import']:.2f} s, "
                  f"process {v['process']:.2f} s)")
        print(f"(first-call measurements took {time.perf_counter() - t0:.0f} s)")
        sys.stdout.flush()

    grid = list(itertools.product(dtypes, cells, hiddens, steps, chans, batches))
    print(f"\n{len(grid)} configurations\n")
    print(HEAD)
    print("|" + "---|" * 17)
    sys.stdout.flush()
    rows = []
    t_start = time.perf_counter()

    def measure(cfg, max_wait):
        dtn, cell, H, T, C, B = cfg
        load, waited = wait_idle(max_wait) if max_wait > 0 else (None, 0.0)
        r = run_config(torch, cell, H, T, C, B, dtn, k, args.budget, args.max_repeats)
        r["load_before"], r["waited_s"] = load, waited
        for phase in ("train", "infer"):
            r[f"{phase}_pct_peak"] = 100 * r[f"{phase}_gflops"] / peaks[dtn]["scipy"]
        if r["parity_rel_loss_diff"] > (1e-3 if dtn == "float32" else 1e-8):
            print(f"WARNING: first-batch loss differs by {r['parity_rel_loss_diff']:.2e} "
                  f"relative ({config_name(r)})")
        return r

    with threadpool_limits(limits=k, user_api="blas"):
        for cfg in grid:
            r = measure(cfg, args.wait_idle)
            rows.append(r)
            print(row_md(r))
            sys.stdout.flush()
        for attempt in range(args.retry_noisy):
            noisy = [i for i, r in enumerate(rows) if (background(r) or 0) > NOISY]
            if not noisy:
                break
            print(f"\nre-measuring {len(noisy)} noisy rows (attempt {attempt + 1})")
            for i in noisy:
                r = measure(grid[i], 4 * args.wait_idle)
                r["retried"] = attempt + 1
                if (background(r) or 0) < (background(rows[i]) or 0):
                    rows[i] = r
                print(row_md(rows[i]))
                sys.stdout.flush()
    elapsed = time.perf_counter() - t_start
    # The peak again at the end (keep the larger: a busy machine only lowers it); the
    # rows' % of peak are recomputed against the final value.
    if args.wait_idle > 0:
        wait_idle(4 * args.wait_idle)
    with CpuMeter() as meter:
        again = gemm_peak(k)
    for name, v in again.items():
        for lib in v:
            if v[lib] > peaks[name][lib]:
                peaks[name][lib] = v[lib]
                peaks_bg = meter.foreign
    print("GEMM peak (best of start and end): " + ", ".join(
        f"{n} {v['scipy']:.1f}" for n, v in peaks.items()) + " GFLOP/s")
    for r in rows:
        for phase in ("train", "infer"):
            r[f"{phase}_pct_peak"] = 100 * r[f"{phase}_gflops"] / peaks[r["dtype"]]["scipy"]
    info["gemm_peak_background_cpu"] = peaks_bg
    noisy = [r for r in rows if (background(r) or 0) > NOISY]
    if noisy:
        print(f"\nNOTE: {len(noisy)} of {len(rows)} rows were measured while other processes "
              f"used > {100 * NOISY:.0f}% of the CPUs; their numbers are unreliable.")

    summary = check_targets(rows, first_calls)
    print(f"\n(grid took {elapsed:.0f} s)\n\n## Targets")
    for line in summary_lines(summary):
        print(line)

    if args.out:
        write_markdown(args.out, info, peaks, first_calls, rows, summary)
        print(f"wrote {args.out}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "gemm_peak_gflops": peaks, "first_call": first_calls,
                       "rows": rows, "grid_seconds": elapsed,
                       "targets": [{"target": lab, "phase": ph, "pass": npass, "total": ntot,
                                    "misses": [config_name(m) if isinstance(m, dict) else m
                                               for m in miss]}
                                   for lab, ph, npass, ntot, miss in summary]},
                      f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
