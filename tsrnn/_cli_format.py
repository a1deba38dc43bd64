"""How the command line prints numbers, tables and its verdict on a backtest.

Each column is printed with one number of decimals, chosen from the values it holds in
the target's units: enough for four significant digits of a typical (median absolute)
value, and as many as the data themselves carry when that is up to two more (a price
given in cents keeps its cents), at most 10.  So a column never mixes ``0.8898`` with
``10.59``, and ``13020`` is never ``1.302e+04``; only values beyond what fixed decimals
can show (a typical size of 1e15 or more, or below 1e-8) are written in scientific form.
Files are always written in full precision; this is for the screen only.
"""

from __future__ import annotations

import math

import numpy as np

SIGNIFICANT = 4
MOST_DECIMALS = 10
_RATIO_DECIMALS = 3   # MASE, RMSSE, coverage: ratios near 1
_PERCENT_DECIMALS = 2
_IN_UNITS = ("mae", "rmse", "interval_width")


def resolution(values, most=MOST_DECIMALS):
    """The decimals the finite ``values`` are given to (0 for whole numbers), up to ``most``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    for k in range(most + 1):
        x = v * 10.0 ** k
        if np.allclose(x, np.round(x), rtol=1e-9, atol=1e-6):
            return k
    return most


def decimals(values):
    """The decimals to print numbers on the scale of ``values`` with (see the module);
    None for scientific notation."""
    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    if not v.size:
        return 2
    scale = float(np.median(v)) or float(v.max())
    if scale == 0.0:
        return 0
    if scale >= 1e15 or scale < 1e-8:
        return None
    sig = max(0, SIGNIFICANT - 1 - math.floor(math.log10(scale)))
    given = resolution(v)
    return min(MOST_DECIMALS, given if sig < given <= sig + 2 else sig)


def formatter(places):
    """A function writing a number with ``places`` decimals (None: scientific)."""
    if places is None:
        return lambda x: f"{x:.{SIGNIFICANT - 1}e}"
    return lambda x: f"{x:.{places}f}"


def forecast_table(table, history):
    """``table`` (forecast and interval columns) as text, each target's columns with the
    decimals of that target's ``history`` (a Series, or a DataFrame of several)."""
    import pandas as pd

    if isinstance(history, pd.Series):
        places = {c: decimals(history) for c in table.columns}
    else:
        places = {}
        for c in table.columns:
            name = next((t for t in history.columns
                         if c == t or str(c) in (f"{t}_lower", f"{t}_upper")), None)
            places[c] = decimals(history[name] if name is not None else table[c])
    return table.to_string(formatters={c: formatter(p) for c, p in places.items()})


def summary_table(summary, history):
    """A backtest's metrics (rows) as text: errors in the target's units with its decimals,
    ratios (MASE, RMSSE, coverage) with 3, sMAPE (percent) with 2."""
    values = history.to_numpy(dtype=float).ravel()
    in_units = decimals(values)
    rows = {}
    for metric in summary.index:
        places = in_units if metric in _IN_UNITS else \
            _PERCENT_DECIMALS if metric == "smape" else _RATIO_DECIMALS
        write = formatter(places)
        rows[metric] = [write(v) if np.isfinite(v) else "" for v in summary.loc[metric]]
    import pandas as pd

    return pd.DataFrame.from_dict(rows, orient="index", columns=summary.columns).to_string()


def _baseline_name(column, m):
    return f"seasonal naive (m={m})" if column == "seasonal_naive" else "naive"


def verdict(summary, n_origins, m):
    """One sentence on the forecaster's MASE against the best baseline of a backtest
    summary: lower is better, which baseline was best, and whether the model beat it, on
    how many origins.  None when the MASE is not known."""
    if "mase" not in summary.index:
        return None
    s = summary.loc["mase"]
    model = float(s["forecaster"])
    columns = ["naive"] if m == 1 else ["seasonal_naive", "naive"]
    if not all(np.isfinite(float(s[c])) for c in ["forecaster", *columns]):
        return None
    best = min(columns, key=lambda c: float(s[c]))
    others = ", ".join(f"{_baseline_name(c, m)} {float(s[c]):.3f}" for c in columns)
    origins = f"{n_origins} origin{'s' if n_origins != 1 else ''}"
    head = f"MASE (lower is better): model {model:.3f}, {others}"
    if model < float(s[best]):
        gain = 100 * (1 - model / float(s[best])) if float(s[best]) > 0 else 0.0
        tail = (f"the model beat the best baseline, {_baseline_name(best, m)}, by {gain:.0f} % "
                f"over {origins}")
    else:
        tail = (f"the model did NOT beat the best baseline, {_baseline_name(best, m)}, over "
                f"{origins}")
    if n_origins < 5:
        tail += " (few origins: a rough estimate)"
    return f"{head}; {tail}"
