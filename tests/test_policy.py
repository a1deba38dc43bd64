"""Project rules that a grep (or a fresh process) can check: the layers of README's map."""

import ast
import pathlib
import re
import subprocess
import sys

from conftest import subprocess_env

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


JIT = PKG / "_engine" / "jit.py"
ENGINE = PKG / "_engine"


def test_no_kernel_hard_codes_fastmath():
    offenders = [
        str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
        if p != JIT and re.search(r"fastmath\s*=", p.read_text())
    ]
    assert not offenders, f"fastmath set outside tsrnn/_engine/jit.py: {offenders}"


def test_fastmath_keeps_nan_and_inf_visible():
    from tsrnn._engine.jit import FASTMATH

    assert not {"fast", "nnan", "ninf", "reassoc"} & set(FASTMATH)


def test_numba_imported_only_in_jit():
    offenders = [
        str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
        if p != JIT and "numba" in _imports(p)
    ]
    assert not offenders, f"numba imported outside tsrnn/_engine/jit.py: {offenders}"


def test_engine_imports_neither_pandas_nor_sklearn():
    for p in ENGINE.rglob("*.py"):
        assert not {"pandas", "sklearn"} & _imports(p), p.relative_to(PKG)


def test_no_numba_parallel_layer():
    """Threads come from tsrnn._engine.threads; Numba's parallel layer aborts in pools/forks."""
    for p in ENGINE.rglob("*.py"):
        tree = ast.parse(p.read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
            {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        parallel = [k for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords
                    if k.arg == "parallel"]
        assert "prange" not in names and not parallel, p.relative_to(PKG)


def test_an_lstm_compiles_the_lstm_path_alone_and_is_cached(tmp_path):
    """Drivers are specialised per cell: a cold fit of an LSTM compiles no GRU or RNN
    layer; a second process knows from the cache that the LSTM kernel is there."""
    script = (
        "import numpy as np\n"
        "from tsrnn import RNNRegressor\n"
        "from tsrnn._engine.jit import is_compiled\n"
        "from tsrnn._engine.kernels import drivers, gru, lstm, rnn\n"
        "print(is_compiled(drivers.RUN['lstm'], np.float32),"
        " is_compiled(drivers.RUN['gru'], np.float32))\n"
        "X = np.random.default_rng(0).normal(size=(40, 5, 1))\n"
        "RNNRegressor(hidden_size=4, max_iter=1, random_state=0).fit(X, X[:, -1, 0])\n"
        "print(len(lstm.forward.signatures), len(gru.forward.signatures),"
        " len(rnn.forward.signatures))\n"
    )
    env = subprocess_env(NUMBA_CACHE_DIR=str(tmp_path), PYTHONWARNINGS="ignore")
    cold, warm = (subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                 text=True, timeout=300, check=False) for _ in range(2))
    assert cold.returncode == 0 and warm.returncode == 0, cold.stderr[-2000:] + warm.stderr
    assert cold.stdout.split() == ["False", "False", "1", "0", "0"]
    assert warm.stdout.split() == ["True", "False", "0", "0", "0"]  # loaded, not compiled


# Layers, bottom first; a module may import only from lower ranks.  Inside the two
# packages, the modules have ranks of their own.
_RANK = {
    "_validation": 0, "_resources": 0, "_version": 0, "_files": 0, "_engine": 1, "nn": 2,
    "_estimator_data": 2.5, "_estimator_sequences": 2.5,
    "_estimator_layout": 2.5, "_estimator_base": 2.7, "estimators": 3,
    "windowing": 4, "datasets": 4, "metrics": 4, "panel": 4.5, "_forecast": 5,
    "forecasting": 6, "streaming": 6, "_many": 6, "_ensemble": 6.5, "_persist_checks": 6.7,
    "_persist_schema": 6.8,
    "model_selection": 7, "persistence": 7, "plotting": 7, "_onnx": 7, "_persist_io": 0.5,
    "_cli_files": 7.5, "cli": 8, "__main__": 9,
    # the command line's parts, below its entry: errors; input, model, output, arguments
    "_cli_base": 7.3, "_cli_read": 7.6, "_cli_model": 7.6, "_cli_format": 7.6,
    "_cli_write": 7.6, "_cli_parser": 7.6,
}
_SUBRANK = {
    "_engine": {"jit": 0, "interrupts": 0, "kernels": 1, "threads": 2, "optim": 2, "plan": 2,
                "sequences": 2, "inputs": 3, "launch": 3, "init": 2, "static": 1,
                "network": 4, "seq2seq": 4.5, "training": 5, "stream": 6},
    "_forecast": {"timeaxis": 0, "scaling": 0, "static": 0, "plain": 0, "windows": 1,
                  "regressor": 1,
                  "series": 2,
                  "forecast": 2,
                  "single": 3, "global_model": 4, "stream": 3},
}


def _tsrnn_imports(path):
    """The tsrnn modules ``path`` imports, as dotted paths below ``tsrnn``."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tsrnn"):
            parts = node.module.split(".")[1:]
            if parts:
                found.add(".".join(parts))
                found.update(".".join(parts + [a.name]) for a in node.names
                             if (PKG.joinpath(*parts, a.name + ".py")).exists())
            else:
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".", 1)[1] for a in node.names
                         if a.name.startswith("tsrnn."))
    return found


def _place(dotted):
    """(rank, sub-rank) of a module given as a dotted path below tsrnn."""
    parts = dotted.split(".")
    top = parts[0]
    sub = _SUBRANK.get(top, {}).get(parts[1], -1) if len(parts) > 1 else -1
    return _RANK.get(top, 99), sub


def test_imports_point_down_only():
    bad = []
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG)
        if rel.name == "__init__.py" and rel.parent == pathlib.Path("."):
            continue
        parts = rel.with_suffix("").parts
        dotted = ".".join(parts)
        if parts[0] not in _RANK:
            bad.append(f"{rel}: not placed in a layer")
            continue
        if parts[0] in _SUBRANK and rel.name != "__init__.py" and \
                parts[1] not in _SUBRANK[parts[0]]:
            bad.append(f"{rel}: not placed in its package's layers")
            continue
        here = _place(dotted)
        for dep in _tsrnn_imports(p):
            there = _place(dep)
            if there[0] > here[0] or (there[0] == here[0] and parts[0] != dep.split(".")[0]):
                bad.append(f"{rel} imports tsrnn.{dep}")
            elif there[0] == here[0] and there[1] >= here[1] and \
                    dep.split(".")[:2] != dotted.split(".")[:2]:
                bad.append(f"{rel} imports tsrnn.{dep} (same or higher rank in its package)")
    assert not bad, bad


def test_pandas_stays_above_the_estimators():
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG)
        if _RANK.get(rel.with_suffix("").parts[0], 99) <= _RANK["estimators"]:
            assert "pandas" not in _imports(p), rel
