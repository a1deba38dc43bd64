"""``python -m tsrnn``: the ``tsrnn`` command line (see :mod:`tsrnn.cli`)."""

from tsrnn.cli import run

if __name__ == "__main__":
    run()
