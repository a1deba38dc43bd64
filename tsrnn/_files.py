"""Files written whole or not at all: a temporary file beside the target, renamed over it.

Model files (:mod:`tsrnn._persist_io`) and the command line's outputs
(:mod:`tsrnn._cli_files`) are both written this way, so that a failure part-way
(a full disk, a file-size limit, Ctrl-C) leaves the previous file as it was.
The temporary file lives in the target's directory (the rename never crosses
file systems), is hidden, and keeps the target's extension (a writer that picks
a format or a compression by the name, such as pandas' ``.csv.gz``, picks the
same). A symbolic link is followed: the file it names is replaced, the link
stays. A device or pipe (``/dev/null``) has nothing to replace and is written to
directly. Only ``os`` and the standard library are imported here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat


def target(path) -> str:
    """The file a write to ``path`` reaches (symbolic links followed)."""
    return os.path.realpath(os.fspath(path))


def kind(path) -> str:
    """``"missing"``, ``"regular"``, ``"directory"`` or ``"special"`` (a device, pipe or
    socket) for the file at ``path`` (links followed); OSError if it cannot be looked at."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    if stat.S_ISREG(mode):
        return "regular"
    return "directory" if stat.S_ISDIR(mode) else "special"


_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)",
          stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symbolic link"}


def describe(mode) -> str:
    """What a non-regular file is, for a message: "a directory", "a FIFO (named pipe)"..."""
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def create_beside(path):
    """``(fd, temporary path)`` of a new, empty, hidden file beside the file ``path``
    (already :func:`target`-resolved), with the target's extension and the mode
    ``open()`` would give a new file (0o666 less the umask; a replaced file's bits are
    put back by :func:`put_in_place`)."""
    directory, name = os.path.split(path)
    base, dot, extension = name.lstrip(".").partition(".")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(directory or ".", f".{base}.{secrets.token_hex(4)}.tmp{dot}{extension}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)


def put_in_place(tmp, path) -> None:
    """Rename the complete temporary file ``tmp`` over ``path`` (resolved), keeping the
    permission bits of a file it replaces, and make the rename durable where the
    system allows it."""
    with contextlib.suppress(FileNotFoundError):
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode):
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
    os.replace(tmp, path)
    _sync_directory(os.path.dirname(path) or ".")


def discard(tmp) -> None:
    """Remove a temporary file that will not be put in place (if it is still there)."""
    if tmp is not None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def can_create_in(directory) -> bool:
    """Whether a file can be created in ``directory`` (tried: permission bits say nothing
    for root, a read-only mount or an immutable directory)."""
    try:
        fd, probe = create_beside(os.path.join(directory, "probe"))
    except OSError:
        return False
    os.close(fd)
    discard(probe)
    return True


def _sync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
