"""The README's Python examples run as written, and silently: no warning a user would see
and nothing on stderr (the output of worker processes, and Dask's or Ray's log lines,
included).  A block that imports an optional package that is not installed is skipped."""

import importlib.util
import pathlib
import re
import warnings

import pytest
from conftest import subprocess_env

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _missing(code):
    """The top-level packages ``code`` imports that are not installed."""
    names = set(re.findall(r"^\s*(?:from|import) (\w+)", code, flags=re.M))
    return sorted(name for name in names if importlib.util.find_spec(name) is None)


def _as_a_script_would_show():
    """Python's default filters (a deprecation shown only where the script itself triggers
    it), with every warning they would show raised as an error instead."""
    warnings.simplefilter("error")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                     ResourceWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("error", category=DeprecationWarning, module="__main__")


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs_silently(code, capfd, monkeypatch):
    missing = _missing(code)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    from joblib.pool import PicklingPool

    # worker processes that do not inherit sys.path (Ray's) import this checkout too
    monkeypatch.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])
    bases = PicklingPool.__bases__
    capfd.readouterr()
    try:
        with warnings.catch_warnings():
            _as_a_script_would_show()
            exec(compile(code, str(README), "exec"), {"__name__": "__main__"})
    finally:
        # Ray's joblib backend rebases joblib's multiprocessing pool class on Ray's pool
        PicklingPool.__bases__ = bases
    err = capfd.readouterr().err
    assert err == "", err


def test_readme_has_examples():
    assert len(BLOCKS) >= 2
