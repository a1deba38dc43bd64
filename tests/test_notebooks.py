"""Every notebook in notebooks/ runs top to bottom (small settings), so none can rot."""

import json
import pathlib

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    nb = json.loads(path.read_text())
    assert nb["nbformat"] == 4
    monkeypatch.setenv("TSRNN_NOTEBOOK_FAST", "1")
    monkeypatch.chdir(tmp_path)               # anything a notebook writes stays out of the repo
    namespace = {"__name__": "__main__"}
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        try:
            exec(compile(source, f"{path.name} cell {k}", "exec"), namespace)  # noqa: S102
        except Exception as exc:
            raise AssertionError(f"{path.name}, cell {k} failed: {exc!r}\n{source}") from exc
    assert plt.get_fignums(), f"{path.name} draws no figure"
    plt.close("all")
