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


# Layers of ../shared/DESIGN.md, bottom first; a module may import only from lower ranks.
_RANK = {
    "_jit": 0, "_validation": 0, "_resources": 0, "_version": 0, "_kernels": 1, "_optim": 2, "nn": 3,
    "_training": 4, "estimators": 5, "windowing": 6, "datasets": 6, "metrics": 6,
    "_timeindex": 6, "panel": 6.2, "_global": 6.5, "forecasting": 7, "_many": 7, "model_selection": 8, "persistence": 8, "plotting": 8, "cli": 9, "__main__": 10,
}


def _tsrnn_imports(path):
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tsrnn"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith("tsrnn."))
    return found


def test_imports_point_down_only():
    bad = []
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG)
        if rel.name == "__init__.py" and rel.parent == pathlib.Path("."):
            continue
        name = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if name not in _RANK:
            bad.append(f"{rel}: not placed in a layer")
            continue
        for dep in _tsrnn_imports(p):
            if dep != name and _RANK.get(dep, 99) >= _RANK[name]:
                bad.append(f"{rel} imports tsrnn.{dep}")
    assert not bad, bad


def test_pandas_stays_above_the_estimators():
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG)
        name = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if _RANK.get(name, 99) <= _RANK["estimators"]:
            assert "pandas" not in _imports(p), rel
