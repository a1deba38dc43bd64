"""What every part of the command line shares: its error type, its interrupt checkpoints, and
the translation of the library's parameter names into the options that set them.

Only the standard library is imported here (``import tsrnn.cli`` stays light).
"""

from __future__ import annotations

import re

# name: (loader in tsrnn.datasets, description)
DATASETS = {
    "weather": ("load_weather", "Seattle daily weather (NOAA), 2012-2015"),
    "co2": ("load_co2", "Mauna Loa weekly CO2 (Scripps), 1958-2001"),
    "sea_temperature": ("load_sea_temperature",
                        "Buoy B01 water temperature every 30 min (NERACOOS), 2016-2017"),
    "stocks": ("load_stocks", "Daily adjusted close of five tickers (Quandl), 2000-2013"),
}
FORMATS = ("csv", "parquet", "json")    # of --output (tsrnn._cli_write writes them)
INTERRUPTED = 130   # the shell's status for a program stopped by SIGINT (128 + 2)


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit status 2."""


def checkpoint():
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed since the command started.

    Inside :func:`tsrnn.cli.main` the first Ctrl-C only sets a flag (so that it cannot
    land half-way through a training step); the command looks at it between its stages.
    """
    from tsrnn._engine import interrupts

    interrupts.checkpoint()


# the library's parameter (as its messages quote it) -> the option that sets it
OPTIONS = {
    "coverage": "--coverage", "calibration_fraction": "--calibration-fraction",
    "lags": "--lags", "horizon": "--horizon", "initial": "--initial", "refit": "--refit",
    "hidden_size": "--hidden-size", "max_iter": "--max-iter", "num_layers": "--num-layers",
    "m": "--season", "n_models": "--ensemble", "strategy": "--strategy",
    "window_norm": "--window-norm", "log_scale": "--log-scale",
}
_QUOTED = re.compile(r"`(" + "|".join(map(re.escape, OPTIONS)) + r")`(=?)")


def in_options(message: str) -> str:
    """``message`` with the parameters it names in backticks (``"`coverage`=0.9"``)
    written as the command line's options (``"--coverage 0.9"``), so that an error
    tells the user what to type."""
    return _QUOTED.sub(lambda m: OPTIONS[m.group(1)] + (" " if m.group(2) else ""), message)
