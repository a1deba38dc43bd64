"""The command line's output files: checked before any work, put in place together.

Each output is first written to a temporary file beside its target (in the
same directory, so that the final rename never crosses file systems) and
renamed over the target with :func:`os.replace` only once every output of the
run has been written.  An interrupted or failed run therefore leaves each
target as it was (complete, or absent): never a truncated CSV, model file or
image, and never the CSV of a run whose model file could not be written.

Only ``os`` is imported here, so that ``import tsrnn.cli`` stays light.
"""

from __future__ import annotations

import os


def _target(path):
    # a symbolic link is written through: the file it names is replaced, the link is kept
    return os.path.realpath(path)


def _special(target):
    """A device, pipe or socket (``/dev/null``, ``/dev/stdout``): written to directly,
    since there is nothing to replace (and a rename would replace the device itself)."""
    return os.path.exists(target) and not os.path.isfile(target) and not os.path.isdir(target)


def _can_create(folder):
    """Whether a file can be created in ``folder`` (tried: permission bits say nothing
    for root, a read-only mount or an immutable directory)."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".tsrnn-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def check_outputs(options):
    """Refuse, before any work, output paths that cannot be written.

    Parameters
    ----------
    options : dict of str to (str or None)
        Option name (``"--output"``) to the path given (None or empty: not asked for).

    Raises
    ------
    ValueError
        Naming the option and the path, when the path is a directory, its
        directory is missing or not writable, it is an existing file that is
        not writable, or two options name the same file.
    """
    seen = {}
    for option, path in options.items():
        if not path:
            continue
        target = _target(path)
        where = f"cannot write {option} {path}"
        if target in seen:
            raise ValueError(f"{where}: {seen[target]} names the same file")
        seen[target] = option
        if os.path.isdir(target):
            raise ValueError(f"{where}: it is a directory")
        if _special(target):
            if not os.access(target, os.W_OK):
                raise ValueError(f"{where}: permission denied")
            continue
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            raise ValueError(f"{where}: no directory {folder}")
        if os.path.exists(target) and not os.access(target, os.W_OK):
            raise ValueError(f"{where}: the file is not writable")
        if not _can_create(folder):
            raise ValueError(f"{where}: the directory {folder} is not writable")


def _new_file_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class Outputs:
    """The files one run writes, staged beside their targets and then put in place together.

    Use as a context manager: :meth:`add` each output, then :meth:`commit`;
    leaving the block any other way (an error, ``KeyboardInterrupt``) removes
    the staged temporary files and leaves the targets untouched.

    Attributes
    ----------
    written : list of str
        The paths put in place by :meth:`commit`, in order.
    """

    def __init__(self):
        self._items = []     # [path, target, temporary file or None, write]
        self.written = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()
        return False

    def add(self, path, write):
        """Write one output, by ``write(file_path)``, to a temporary file beside ``path``.

        The temporary file ends like ``path`` (``.csv.gz``, ``.png``), so that a
        writer choosing a format or a compression by the name chooses the same.
        """
        target = _target(path)
        if _special(target):
            self._items.append([path, target, None, write])   # written at commit
            return
        import tempfile

        folder, name = os.path.split(target)
        _, dot, extension = name.lstrip(".").partition(".")
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=dot + extension)
        os.close(fd)
        # registered before it is written, so that a failing writer's leftovers are removed
        self._items.append([path, target, temporary, write])
        write(temporary)

    def commit(self):
        """Put every staged output in place (one rename each), then write the special files."""
        mode = None
        for item in self._items:
            path, target, temporary, write = item
            if temporary is None:
                write(path)
            else:
                if os.path.isfile(target):
                    keep = os.stat(target).st_mode & 0o7777
                else:
                    keep = mode = _new_file_mode() if mode is None else mode
                # mkstemp's files are private (0600); the output gets the mode a plain
                # write would give it (the existing file's, else 0666 less the umask)
                os.chmod(temporary, keep)
                os.replace(temporary, target)
                item[2] = None
            self.written.append(path)
        self._items = []

    def discard(self):
        """Remove the staged temporary files not yet put in place."""
        for _, _, temporary, _ in self._items:
            if temporary is not None:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
        self._items = []
