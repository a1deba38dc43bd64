"""The bytes of a model file: atomic writes, bounded reads, arrays streamed in and out.

Everything here is about the file, nothing about what a model holds (that is
:mod:`tsrnn._persist_schema`).  A save never destroys the previous file: it writes
a temporary file beside it and renames it into place.  A load reads only a regular
file, no larger than the size limit, and inflates each archive member in chunks,
charging the bytes actually inflated (not the sizes the archive declares, which a
crafted file can fake) against one budget; each array is allocated once, at the
size its header claims once that claim is checked, and filled from the stream.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
import zipfile

import numpy as np

from tsrnn import _files
from tsrnn._validation import format_bytes

# Inflated content of one file: arrays, JSON and all (tests may lower it).
MAX_BYTES = 1 << 30
# JSON parses into Python objects several times its size, so it gets a tighter cap of
# its own; the arrays hold the bulk of any model.
MAX_JSON = 64 << 20
# The central directory becomes a Python object per entry (a few hundred bytes
# each); 16 MiB of it is some 300 000 members, far more than any model writes.
MAX_DIRECTORY = 16 << 20
# Inflating reads this much at a time, so no member is ever held twice in memory.
CHUNK = 1 << 20
# Kinds of array a model file holds: numbers, booleans, text, times; never objects.
ARRAY_KINDS = "biufcUSMm"
_MEMBER = re.compile(r"a[0-9]{1,9}\.npy")


# ------------------------------------------------------------------------------ writing
def write_atomic(path, write) -> None:
    """Call ``write(fh)`` on a new file and put it at ``path`` only once it is complete.

    Written beside ``path``, flushed and synced, then renamed over it
    (:mod:`tsrnn._files`); on any failure, interrupts included, the temporary
    file is removed and a previous file at ``path`` is left as it was.  A device
    or pipe at ``path`` (``/dev/null``) is written to directly; a directory is a
    ValueError.
    """
    path = os.fspath(path)
    target = _files.target(path)
    try:
        what = _files.kind(target)
    except OSError as exc:
        raise ValueError(f"`path`={path!r} cannot be written: {exc.strerror}.") from None
    if what == "directory":
        raise ValueError(f"`path`={path!r} is a directory, not a file; give a file name such "
                         f"as {os.path.join(path, 'model.tsrnn')!r}.")
    if what == "special":
        with open(target, "wb") as fh:
            write(_Stream(fh))
        return
    if not os.path.isdir(os.path.dirname(target) or "."):
        raise ValueError(f"`path`={path!r} cannot be written: no directory "
                         f"{os.path.dirname(target)!r}.")
    fd = tmp = None
    try:
        fd, tmp = _files.create_beside(target)
        with os.fdopen(fd, "wb") as fh:
            fd = None  # the file object owns it now
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        _files.put_in_place(tmp, target)
    except BaseException:
        if fd is not None:
            os.close(fd)
        _files.discard(tmp)
        raise


class _Stream:
    """A file written front to back, without ``tell`` or ``seek``: a device's ``tell()``
    is always 0, so ``zipfile`` must count the positions itself."""

    def __init__(self, fh):
        self.write, self.flush = fh.write, fh.flush


def write_array(zf, name, a) -> None:
    """Stream the C-contiguous array ``a`` into the archive as ``name`` (.npy format).

    Arrays beyond :data:`CHUNK` are stored uncompressed: network weights deflate by
    some 7 % at some 20 MB/s, so compressing them would slow a large save several-fold
    for nothing.
    """
    member = name
    if a.nbytes > CHUNK:
        member = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
        member.compress_type = zipfile.ZIP_STORED
    with zf.open(member, "w", force_zip64=a.nbytes > (1 << 30)) as fh:
        np.lib.format.write_array(fh, a, allow_pickle=False)


# ------------------------------------------------------------------------------ reading
def open_regular(path, limit):
    """``path`` opened for binary reading, if it is a regular file of at most ``limit``
    bytes; else a ValueError naming it.  Opened without blocking, so a FIFO is refused
    instead of waiting for a writer."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ValueError(f"Cannot read model file {path!r}: {exc.strerror}.") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"`path`={path!r} is {_files.describe(st.st_mode)}, not a regular file: "
                             "model files are read only from regular files.")
        if st.st_size > limit:
            raise ValueError(f"`path`={path!r} is {format_bytes(st.st_size)}, more than a model "
                             f"file may be ({format_bytes(limit)}).")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class Budget:
    """Bytes a load may still inflate; every member read is charged what it really gave."""

    def __init__(self, limit):
        self.limit = self.left = int(limit)

    def charge(self, n, what):
        if n > self.left:
            raise ValueError(f"{what} takes the content past {format_bytes(self.limit)}, the "
                             "most a model file may inflate to.")
        self.left -= n


def members(zf):
    """The archive's entries by name, refusing duplicate names and anything a model
    file does not hold (``meta.json``, ``model.json``, ``a<k>.npy``)."""
    out = {}
    for info in zf.infolist():
        name = info.filename
        if name in out:
            raise ValueError(f"the archive holds {name!r} twice")
        if name not in ("meta.json", "model.json") and not _MEMBER.fullmatch(name):
            raise ValueError(f"the archive holds {name[:80]!r}, which no model file holds")
        out[name] = info
    return out


def check_directory(fh):
    """Refuse an archive whose central directory is beyond :data:`MAX_DIRECTORY` before
    ``zipfile`` turns it into objects."""
    end = zipfile._EndRecData(fh)  # the end record: what ZipFile itself reads first
    if end is None:
        raise ValueError("not a ZIP archive")
    if end[zipfile._ECD_SIZE] > MAX_DIRECTORY:
        raise ValueError(f"its directory of {format_bytes(end[zipfile._ECD_SIZE])} is larger "
                         "than any model file's")
    fh.seek(0)


def read_bytes(zf, info, budget, cap):
    """A small member (JSON) in full: at most ``cap`` bytes, charged to ``budget``."""
    if info.file_size > cap:
        raise ValueError(f"{info.filename} declares {format_bytes(info.file_size)}, more than "
                         f"{format_bytes(cap)}")
    with zf.open(info) as fh:
        data = fh.read(cap + 1)
        if len(data) > cap or fh.read(1):
            raise ValueError(f"{info.filename} inflates beyond {format_bytes(cap)}")
    budget.charge(len(data), info.filename)
    return data


def read_array(zf, info, budget) -> np.ndarray:
    """One ``.npy`` member as an array, inflated in chunks straight into its memory.

    The header's shape and dtype are checked before anything is allocated: a
    numeric (never object) C-ordered array whose size is what the member
    declares and fits the budget.  The data must then fill it exactly.
    """
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"{info.filename}: .npy version {version} is not supported")
        where = f"{info.filename} (shape {shape}, dtype {dtype})"
        if dtype.hasobject or dtype.kind not in ARRAY_KINDS or dtype.fields is not None \
                or dtype.subdtype is not None:
            raise ValueError(f"{where}: only plain numeric and text arrays are allowed")
        if fortran:
            raise ValueError(f"{where}: Fortran-ordered arrays are never written")
        count = 1
        for n in shape:
            count *= int(n)  # Python ints: a crafted shape cannot overflow
        nbytes = count * dtype.itemsize
        header = fh.tell()
        if header + nbytes != info.file_size:
            raise ValueError(f"{where} claims {nbytes} bytes of data but the member declares "
                             f"{info.file_size - header}")
        budget.charge(header + nbytes, info.filename)
        a = np.empty(shape, dtype)
        flat = memoryview(a.reshape(-1).view(np.uint8))
        pos = 0
        while pos < nbytes:
            got = fh.readinto(flat[pos:pos + CHUNK])
            if not got:
                raise ValueError(f"{where}: the data end after {pos} of {nbytes} bytes")
            pos += got
        if fh.read(1):  # also what makes zipfile compare the CRC
            raise ValueError(f"{where}: more data than the header claims")
    return a


def native(a: np.ndarray) -> np.ndarray:
    """``a`` in the machine's byte order (a file from a machine of the other order; the
    digest is taken on the bytes as stored, before this)."""
    if a.dtype.byteorder == (">" if np.little_endian else "<"):
        return a.astype(a.dtype.newbyteorder("="))
    return a


# ------------------------------------------------------------------------------ digest
def digest(payload: bytes, arrays: dict) -> str:
    """SHA-256 of the JSON payload and every array (name, dtype, shape and bytes), hashed
    from the arrays' memory without copying them."""
    h = hashlib.sha256(payload)
    for key in sorted(arrays):
        a = arrays[key]
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        a = np.ascontiguousarray(a)
        if a.size:
            h.update(memoryview(a.reshape(-1).view(np.uint8)))
    return h.hexdigest()
