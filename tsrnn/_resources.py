"""Where the bundled data files are.

Installed, ``datasets/`` ships inside the package as ``tsrnn._data``.  Run from
a source checkout (the checkout's ``tsrnn/`` first on ``sys.path``), that
package does not exist and the files sit in ``datasets/`` beside ``tsrnn/``.
"""

from __future__ import annotations

import importlib.resources
import pathlib


def data_file(name: str) -> pathlib.Path:
    """Path of the bundled file ``name`` (e.g. ``"seattle_weather_daily.csv"``).

    Raises
    ------
    FileNotFoundError
        If no bundled file has that name.
    """
    try:
        path = pathlib.Path(str(importlib.resources.files("tsrnn._data") / name))
    except ModuleNotFoundError:
        path = pathlib.Path(__file__).resolve().parent.parent / "datasets" / name
    if not path.is_file():
        raise FileNotFoundError(f"no bundled data file {name!r} (looked at {path})")
    return path
