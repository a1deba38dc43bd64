"""The command line's tables as files: CSV, Parquet or JSON, chosen by ``--format`` or by the
name given to ``--output``; and its plots as images.

Every writer takes a flat table (the time column first, as a column) and writes it in full
precision; :mod:`tsrnn._cli_files` stages the file and puts it in place.  The JSON layout
is one object per row (``orient="records"``), in the table's column order, timestamps as
ISO 8601 text (``"2016-01-01T00:00:00"``, with the UTC offset of a time-zone-aware
index), missing values as ``null``.  pyarrow is imported only for Parquet.
"""

from __future__ import annotations

import json
import math
import os

from tsrnn._cli_base import UsageError

_BY_EXTENSION = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".parq": "parquet",
                 ".json": "json"}
# pandas compresses a CSV by these suffixes (data.csv.gz)
_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")


def _format_of_name(path):
    """(format the name implies or None, whether it ends in a compression suffix)."""
    stem, ext = os.path.splitext(path.lower())
    compressed = ext in _COMPRESSED
    if compressed:
        ext = os.path.splitext(stem)[1]
    return _BY_EXTENSION.get(ext), compressed


def output_format(path, fmt):
    """The format of ``--output path``: ``--format fmt`` if given, else the one its name
    implies (``x.parquet``, ``x.json``; ``x.csv.gz`` is a compressed CSV), else CSV.

    Raises
    ------
    UsageError
        When the name implies another format than ``--format``, when a JSON or Parquet
        file is given a compression suffix, or when pyarrow is missing for Parquet.
    """
    if not path:
        if fmt is not None:
            raise UsageError(f"--format {fmt} applies to --output: give --output FILE")
        return None
    named, compressed = _format_of_name(path)
    if fmt is not None and named is not None and named != fmt:
        raise UsageError(f"--output {path} names a {named} file, but --format is {fmt}")
    fmt = fmt or named or "csv"
    if compressed and fmt != "csv":
        raise UsageError(f"--output {path}: only CSV output is compressed by its name "
                         "(.csv.gz, .csv.zip, ...)")
    if fmt == "parquet":
        _pyarrow()
    return fmt


def _pyarrow():
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError("Parquet output needs pyarrow: pip install 'tsrnn[parquet]'") from None


def flat(table, time_name="time"):
    """``table`` with its index (the forecast timestamps) as its first column."""
    name = table.index.name if table.index.name is not None else time_name
    return table.rename_axis(name).reset_index()


def writer(frame, fmt):
    """A function writing the flat table ``frame`` to a path in format ``fmt``."""
    if fmt == "parquet":
        return lambda path: frame.to_parquet(path, index=False, engine="pyarrow")
    if fmt == "json":
        return lambda path: write_json(frame, path)
    return lambda path: frame.to_csv(path, index=False)


def json_records(frame):
    """The rows of ``frame`` as JSON-ready dicts (see the module's layout)."""
    import pandas as pd

    columns = []
    for name in frame.columns:
        col = frame[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(col):
            values = [None if pd.isna(v) else v.isoformat() for v in col]
        elif pd.api.types.is_bool_dtype(col):
            values = [bool(v) for v in col]
        elif pd.api.types.is_integer_dtype(col):
            values = [int(v) for v in col]
        elif pd.api.types.is_float_dtype(col):
            values = [float(v) if math.isfinite(v) else None for v in col.to_numpy(float)]
        else:
            values = [None if pd.isna(v) else str(v) for v in col]
        columns.append(values)
    keys = [str(c) for c in frame.columns]
    return [dict(zip(keys, row)) for row in zip(*columns)]


def write_json(frame, path):
    """``frame`` as a JSON array of records, one per line."""
    rows = [json.dumps(r, allow_nan=False) for r in json_records(frame)]
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(rows) + "\n]\n")


def savefig(figure):
    """A writer of ``figure`` (the format follows the file name, the resolution the
    figure's own dpi), closing the figure once written."""
    def write(path):
        try:
            figure.savefig(path)
        finally:
            import matplotlib.pyplot as plt

            plt.close(figure)
    return write


def check_plot_name(plot):
    """Refuse, before any work, a ``--plot`` name whose image format matplotlib lacks."""
    import matplotlib

    matplotlib.use("Agg")    # file-only: no display needed, nothing opens a window
    from matplotlib.figure import Figure

    ext = os.path.splitext(plot)[1].lstrip(".").lower()
    if ext not in Figure().canvas.get_supported_filetypes():
        raise UsageError(f"--plot {plot}: unknown image format {ext!r} (use .png, .svg, .pdf)")
