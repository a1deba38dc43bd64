"""What the benchmark scripts share: printing a report and writing it where ``--out`` says."""


def emit(lines, out=None):
    """Print ``lines`` (a Markdown report) and, with ``out``, write them there too."""
    text = "\n".join(lines)
    print(text)
    if out:
        with open(out, "w") as fh:
            fh.write(text + "\n")
