"""``python -m tsrnn``: the ``tsrnn`` command line (see :mod:`tsrnn.cli`)."""

import sys

try:
    from tsrnn.cli import run
except KeyboardInterrupt:   # Ctrl-C before main() could take it: still one line, status 130
    sys.stderr.write("tsrnn: interrupted\n")
    sys.exit(130)

if __name__ == "__main__":
    run()
