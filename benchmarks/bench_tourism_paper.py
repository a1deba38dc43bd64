"""The Tourism competition as its paper scored it: tsrnn beside the published figures.

Athanasopoulos, Hyndman, Song & Wu (2011), "The tourism forecasting competition",
International Journal of Forecasting 27(3), 822-844, report for each frequency the
MAPE and the MASE of the competition's methods averaged over the forecast horizon
(Tables 4-6, "Average 1-h"). Their MASE is scaled by the mean absolute seasonal
difference of the *whole* series (training and test part), unlike the in-sample
scaling of ``bench_mcomp.py``; MAPE is ``100 |y - f| / |y|`` averaged per series,
then over series. This script computes both, as the paper defines them, for
tsrnn's defaults (one global model per frequency, as in ``bench_mcomp.py``) and
for statsforecast's seasonal naive (naive for yearly data, as the paper), AutoETS
and AutoTheta in the same run. The naive rows must reproduce the paper's to the
digit: that checks the data and the metric definitions.

The published figures are as transcribed in EZ8EZ/freecast
(``src/freecast/bench/published_results.py``, which states that its harness reproduces
the paper's Naive/SNaive rows); the paper is the source. "ForePro" is Forecast Pro.

Usage::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/bench_tourism_paper.py --out tourism_paper.md
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_mcomp import git_rev, load, parse_configs, run_stats, run_tsrnn, write  # noqa: E402

# frequency: {method: (MAPE, MASE)}, Tables 4-6 of the paper, "Average 1-h" columns
PUBLISHED = {
    "monthly": {"ForePro": (19.91, 1.40), "ETS": (21.15, 1.49), "ARIMA": (21.13, 1.38),
                "Theta": (22.11, 1.55), "Damped": (23.47, 1.66), "SNaive": (22.56, 1.54)},
    "quarterly": {"ForePro": (15.72, 1.48), "ETS": (16.05, 1.58), "ARIMA": (16.23, 1.47),
                  "Theta": (16.15, 1.56), "Damped": (15.56, 1.43), "SNaive": (16.46, 1.59)},
    "yearly": {"ForePro": (26.36, 2.65), "ETS": (27.68, 2.71), "ARIMA": (28.03, 2.63),
               "Theta": (23.45, 2.28), "Damped": (28.15, 2.75), "Naive": (23.61, 2.50)},
}


def paper_mape(y, f):
    y, f = np.asarray(y, float), np.asarray(f, float)
    return float(np.mean(100.0 * np.abs(y - f) / np.abs(y)))


def paper_mase(x, y, f, m):
    """MAE over the mean absolute seasonal difference of the whole series."""
    whole = np.concatenate([np.asarray(x, float), np.asarray(y, float)])
    scale = np.mean(np.abs(whole[m:] - whole[:-m]))
    return float(np.mean(np.abs(np.asarray(y, float) - np.asarray(f, float))) / scale)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tsrnn", action="append", default=[], metavar="NAME=JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    configs = parse_configs(args.tsrnn)
    data = load("tourism")
    rows = []
    for freq in ("monthly", "quarterly", "yearly"):
        series = data[freq]
        h, m = series[0].h, series[0].period
        naive = "Naive" if freq == "yearly" else "SeasonalNaive"
        results = {name: run_tsrnn(series, h, m, cfg, args.seed)[0]
                   for name, cfg in configs.items()}
        stats = run_stats(series, h, m, args.n_jobs, (naive, "AutoETS", "AutoTheta"))
        results.update({k: v[0] for k, v in stats.items()})
        row = {"freq": freq, "n": len(series), "h": h, "measured": {}}
        for name, fcs in results.items():
            row["measured"][name] = (
                float(np.mean([paper_mape(s.xx, f) for s, f in zip(series, fcs)])),
                float(np.mean([paper_mase(s.x, s.xx, f, m) for s, f in zip(series, fcs)])))
        rows.append(row)
        print(freq, {k: tuple(round(x, 3) for x in v) for k, v in row["measured"].items()},
              flush=True)
    measured = list(rows[0]["measured"])
    published = ["ForePro", "ETS", "ARIMA", "Theta", "Damped", "SNaive / Naive"]
    lines = [f"Tourism, the paper's MAPE / MASE; tsrnn at {git_rev()}, seed {args.seed}; "
             f"command: `bench_tourism_paper.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
             "", "| frequency | series | h | " + " | ".join(
                 f"{k} (measured)" for k in measured) + " | " + " | ".join(
                 f"{k} (published)" for k in published) + " |",
             "|---|---|---|" + "---|" * (len(measured) + len(published))]
    for r in rows:
        pub = PUBLISHED[r["freq"]]
        cells = [f"{a:.2f} / {b:.2f}" for a, b in r["measured"].values()]
        cells += [f"{pub[k][0]:.2f} / {pub[k][1]:.2f}" for k in published[:-1]]
        naive = pub.get("SNaive") or pub["Naive"]
        cells.append(f"{naive[0]:.2f} / {naive[1]:.2f}")
        lines.append(f"| {r['freq']} | {r['n']} | {r['h']} | " + " | ".join(cells) + " |")
    write("\n".join(lines) + "\n", args.out, args.json, {"rows": rows, "published": PUBLISHED})


if __name__ == "__main__":
    main()
