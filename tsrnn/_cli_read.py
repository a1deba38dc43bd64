"""The command line's input: a CSV or Parquet file, CSV (or Parquet) on stdin, or a bundled
dataset, as a table indexed by its time column; then the target and covariate columns.

Every problem is a :class:`~tsrnn._cli_base.UsageError` naming the file (or stdin), the
column and the row.  pyarrow is imported only when a Parquet input is read.
"""

from __future__ import annotations

import io
import os
import stat
import sys

import numpy as np
import pandas as pd

from tsrnn import _files
from tsrnn._cli_base import DATASETS, UsageError, checkpoint
from tsrnn._validation import check_allocation, format_bytes, memory_budget

# a column with one of these names (any case) is the time column; else the first column
TIME_NAMES = ("date", "time", "datetime", "timestamp", "ds", "year", "quarter", "month",
              "week", "day", "period")
STDIN = "-"
PARQUET_EXTENSIONS = (".parquet", ".pq", ".parq")
_PARQUET_MAGIC = b"PAR1"
# pandas takes several times a CSV's text size in memory while it reads it; a Parquet
# file's size is measured uncompressed (from its metadata), and pandas copies it once more
CSV_MEMORY_FACTOR = 10
PARQUET_MEMORY_FACTOR = 3
_CHUNK = 1 << 20


def load_dataset(name):
    from tsrnn import datasets

    return getattr(datasets, DATASETS[name][0])()


def check_input(path, limit=False):
    """Refuse, without opening it, an input that is missing or not a regular file (a
    FIFO or a device would block or never end, a directory cannot be read), and with
    ``limit`` a CSV too large to read within the memory budget."""
    try:
        info = os.stat(path)    # does not open the file: a FIFO cannot block here
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"cannot read {path}: it is {_files.describe(info.st_mode)}, not a "
                         "regular file")
    if limit:
        _check_budget(f"reading {path} ({format_bytes(info.st_size)})",
                      info.st_size * CSV_MEMORY_FACTOR)


def _check_budget(what, nbytes):
    try:
        check_allocation(what, nbytes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def is_parquet(path):
    """A Parquet file by its name, or by its first bytes (``PAR1``) whatever its name."""
    if path.lower().endswith(PARQUET_EXTENSIONS):
        return True
    with open(path, "rb") as f:
        return f.read(len(_PARQUET_MAGIC)) == _PARQUET_MAGIC


def _pyarrow():
    try:
        import pyarrow.parquet
    except ImportError:
        raise UsageError("Parquet files need pyarrow: pip install 'tsrnn[parquet]'") from None
    return pyarrow.parquet


def _read_parquet(source, name):
    """A Parquet file (a path, or stdin's bytes) as a DataFrame whose time column, if
    pandas stored it as the index, is a column again; returns (frame, that column)."""
    pq = _pyarrow()
    try:
        meta = pq.read_metadata(source)
        size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        _check_budget(f"reading {name} ({format_bytes(size)} uncompressed)",
                      size * PARQUET_MEMORY_FACTOR)
        df = pd.read_parquet(source, engine="pyarrow")
    except UsageError:
        raise
    except Exception as exc:  # pyarrow's errors have no common base: every one is this line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot read {name} as Parquet: {first}") from None
    index = df.index
    if isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0 and \
            index.step == 1:
        return df, None
    name_ = index.name if index.name is not None else "index"
    return df.reset_index(names=[name_]), name_


def _read_stdin():
    """Stdin's bytes, read in chunks (a Ctrl-C is taken between them) up to what the
    memory budget allows."""
    stream = sys.stdin
    if stream is None:
        raise UsageError("cannot read -: there is no stdin")
    if stream.isatty():
        raise UsageError("- reads the data from stdin, which is a terminal: pipe or redirect "
                         "a CSV into it (tsrnn forecast - ... < data.csv)")
    limit = memory_budget() // CSV_MEMORY_FACTOR
    chunks, size = [], 0
    for chunk in _chunks(stream):
        size += len(chunk)
        if size > limit:
            _check_budget(f"reading stdin (more than {format_bytes(limit)})",
                          size * CSV_MEMORY_FACTOR)
        chunks.append(chunk)
        checkpoint()
    data = b"".join(chunks)
    if not data.strip():
        raise UsageError("stdin is empty: pipe a CSV (or Parquet) file into -")
    return data


def _chunks(stream):
    """Stdin's bytes as they arrive (from its descriptor; from the object itself when it
    has none, as a replaced ``sys.stdin`` may)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        source = getattr(stream, "buffer", stream)
        while chunk := source.read(_CHUNK):
            yield chunk.encode() if isinstance(chunk, str) else chunk
        return
    while chunk := os.read(fd, _CHUNK):
        yield chunk


def read_table(path, time_col=None):
    """A CSV or Parquet file (``-``: stdin) as a DataFrame indexed by its time column.

    The time column is ``time_col``, else a Parquet file's stored index, else a column
    named as in :data:`TIME_NAMES`, else the first.  Integer numbers in it (also written as
    floats: years ``1871.0``, Excel's serial dates ``43831.0``) are time steps; other
    numbers are refused; anything else is parsed as dates.
    """
    name = "stdin" if path == STDIN else path
    stored = None
    if path == STDIN:
        data = _read_stdin()
        if data.startswith(_PARQUET_MAGIC):
            df, stored = _read_parquet(io.BytesIO(data), name)
        else:
            df = _read_csv(io.BytesIO(data), name)
    else:
        check_input(path)
        if is_parquet(path):
            df, stored = _read_parquet(path, name)
        else:
            check_input(path, limit=True)
            df = _read_csv(path, name)
    return _index_by_time(df, time_col if time_col is not None else stored, name)


def _read_csv(source, name):
    try:
        df = pd.read_csv(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {name} as CSV: {str(exc).splitlines()[0]}") from None
    # a pandas-written index column ("Unnamed: 0") is row numbers, not data
    return df.drop(columns=[c for c in df.columns if str(c).startswith("Unnamed:")])


def _index_by_time(df, time_col, name):
    if df.shape[1] < 2:
        raise UsageError(f"{name} needs a time column and at least one value column.")
    if len(df) == 0:
        raise UsageError(f"{name} has no data rows.")
    if time_col is None:
        named = [c for c in df.columns if str(c).lower() in TIME_NAMES]
        time_col = named[0] if named else df.columns[0]
    elif time_col not in df.columns:
        raise UsageError(f"--time-col {time_col!r} is not a column of {name} "
                         f"(columns: {', '.join(map(str, df.columns))})")
    column = df[time_col]
    rest = df.drop(columns=[time_col])
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise UsageError(f"missing time value in column {time_col!r} (data row {row + 1})")
    if pd.api.types.is_integer_dtype(column):   # time steps numbered 0, 1, 2 ...
        return rest.set_index(pd.Index(column.to_numpy(np.int64), name=time_col))
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        steps = _integer_steps(column.to_numpy(dtype=float), time_col)
        return rest.set_index(pd.Index(steps, name=time_col))
    stamps = pd.to_datetime(column, errors="coerce", format="mixed")
    bad = stamps.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UsageError(f"unparseable date {column.iloc[row]!r} in column {time_col!r} "
                         f"(data row {row + 1}); choose the time column with --time-col")
    return rest.set_index(pd.DatetimeIndex(stamps, name=time_col))


def _integer_steps(values, time_col):
    """Integer-valued floats (a column with a blank cell is read as floats, and
    spreadsheets write years and serial dates as ``1871.0``) as int64 steps."""
    # beyond 2**53 a float no longer tells neighbouring integers apart
    whole = np.isfinite(values) & (np.abs(values) < 2.0 ** 53) & (values == np.round(values))
    if not whole.all():
        row = int(np.flatnonzero(~whole)[0])
        raise UsageError(f"time column {time_col!r} holds non-integer numbers "
                         f"({float(values[row])!r} in data row {row + 1}); give dates or "
                         "integer steps, or choose the time column with --time-col")
    return values.astype(np.int64)


def load_data(args):
    """The table the command reads: ``args.data`` (a file or ``-``) or ``args.dataset``."""
    if (args.data is None) == (args.dataset is None):
        raise UsageError("give a CSV or Parquet file, - for stdin, or --dataset NAME (one "
                         "of them)")
    if args.dataset is not None:
        if args.time_col is not None:
            raise UsageError("--time-col applies to a data file, not to --dataset")
        return load_dataset(args.dataset)
    return read_table(args.data, args.time_col)


def split_target(df, targets, covariates=(), future_covariates=()):
    """``(y, X)``: the history of the target columns (a Series for one, a DataFrame for
    several) and the covariates (None without any).  Trailing rows where every target is
    missing are not history: they hold the future covariates of the forecast steps."""
    twice = sorted({t for t in targets if list(targets).count(t) > 1})
    if twice:
        raise UsageError(f"--target {twice[0]!r} is given more than once")
    cov = list(covariates) + list(future_covariates)
    both = [c for c in cov if c in targets]
    if both:
        raise UsageError(f"column {both[0]!r} is both a --target and a covariate")
    names = list(targets) + cov
    unknown = [c for c in names if c not in df.columns]
    if unknown:
        raise UsageError(f"unknown column(s) {', '.join(map(repr, unknown))}; available: "
                         f"{', '.join(map(str, df.columns))}")
    for c in names:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise UsageError(f"column {c!r} is not numeric")
    for t in targets:
        if not df[t].notna().any():
            raise UsageError(f"column {t!r} has no values")
    observed = df[list(targets)].notna().any(axis=1).to_numpy()
    end = int(np.flatnonzero(observed)[-1]) + 1
    y = df[targets[0]] if len(targets) == 1 else df[list(targets)]
    return y.iloc[:end], (df[cov] if cov else None)
