"""The command line's output files: checked before any work, put in place together.

Each output is first written to a temporary file beside its target (in the
same directory, so that the final rename never crosses file systems) and
renamed over the target with :func:`os.replace` only once every output of the
run has been written.  An interrupted or failed run therefore leaves each
target as it was (complete, or absent): never a truncated CSV, model file or
image, and never the CSV of a run whose model file could not be written.

Only ``os`` and :mod:`tsrnn._files` are imported here, so that ``import tsrnn.cli`` stays
light.
"""

from __future__ import annotations

import os

from tsrnn import _files


def check_outputs(options, inputs=None):
    """Refuse, before any work, output paths that cannot be written.

    Parameters
    ----------
    options : dict of str to (str or None)
        Option name (``"--output"``) to the path given (None or empty: not asked for).
    inputs : dict of str to (str or None), optional
        What the run reads (``"--model"``, ``"the input CSV"``) to its path: an output
        naming one of them is refused (it would overwrite the input).

    Raises
    ------
    ValueError
        Naming the option and the path, when the path is a directory, its
        directory is missing or not writable, it is an existing file that is
        not writable, two options name the same file, or an option names an input.
    """
    read = {_files.target(path): name for name, path in (inputs or {}).items() if path}
    seen = {}
    for option, path in options.items():
        if not path:
            continue
        target = _files.target(path)
        where = f"cannot write {option} {path}"
        if target in seen:
            raise ValueError(f"{where}: {seen[target]} names the same file")
        seen[target] = option
        what = _files.kind(target)
        if target in read and what != "special":
            raise ValueError(f"{where}: it is {read[target]}, which would be overwritten")
        if what == "directory":
            raise ValueError(f"{where}: it is a directory")
        if what == "special":
            if not os.access(target, os.W_OK):
                raise ValueError(f"{where}: permission denied")
            continue
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            raise ValueError(f"{where}: no directory {folder}")
        if what == "regular" and not os.access(target, os.W_OK):
            raise ValueError(f"{where}: the file is not writable")
        if not _files.can_create_in(folder):
            raise ValueError(f"{where}: the directory {folder} is not writable")


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
        """Write one output, by ``write(file_path)``, to a temporary file beside ``path``
        (with its extension, so that a writer choosing a format or a compression by the
        name, ``.csv.gz`` or ``.png``, chooses the same)."""
        target = _files.target(path)
        if _files.kind(target) == "special":
            self._items.append([path, target, None, write])   # written at commit
            return
        fd, temporary = _files.create_beside(target)
        os.close(fd)
        # registered before it is written, so that a failing writer's leftovers are removed
        self._items.append([path, target, temporary, write])
        write(temporary)

    def commit(self):
        """Put every staged output in place (one rename each), then write the special files."""
        for item in self._items:
            path, target, temporary, write = item
            if temporary is None:
                write(path)
            else:
                _files.put_in_place(temporary, target)
                item[2] = None
            self.written.append(path)
        self._items = []

    def discard(self):
        """Remove the staged temporary files not yet put in place."""
        for _, _, temporary, _ in self._items:
            _files.discard(temporary)
        self._items = []
