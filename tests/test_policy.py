"""Project rules that a grep can check (../shared/DESIGN.md)."""

import ast
import pathlib
import re

import numba

PKG = pathlib.Path(__file__).resolve().parent.parent / "tsrnn"


def _imports(path):
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_kernel_hard_codes_fastmath():
    offenders = [
        str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
        if p.name != "_jit.py" and re.search(r"fastmath\s*=", p.read_text())
    ]
    assert not offenders, f"fastmath set outside tsrnn/_jit.py: {offenders}"


def test_fastmath_keeps_nan_and_inf_visible():
    from tsrnn._jit import FASTMATH

    assert not {"fast", "nnan", "ninf", "reassoc"} & set(FASTMATH)


def test_numba_imported_only_in_jit():
    offenders = [
        str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
        if p.name != "_jit.py" and "numba" in _imports(p)
    ]
    assert not offenders, f"numba imported outside tsrnn/_jit.py: {offenders}"


def test_kernels_import_neither_pandas_nor_sklearn():
    for p in (PKG / "_kernels").glob("*.py"):
        assert not {"pandas", "sklearn"} & _imports(p), p.name


def test_serial_and_parallel_drivers_are_distinct_functions():
    from tsrnn._kernels import network

    for serial, parallel in [
        (network.loss_grad_serial, network.loss_grad_parallel),
        (network.predict_serial, network.predict_parallel),
    ]:
        assert isinstance(serial, numba.core.registry.CPUDispatcher)
        assert serial.py_func is not parallel.py_func
        assert parallel.targetoptions.get("parallel") and not serial.targetoptions.get("parallel")
