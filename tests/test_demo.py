"""``python -m tsrnn``: the Quickstart's main job."""

import subprocess
import sys

import numpy as np


def test_demo_trains_and_loss_falls(capsys):
    from tsrnn.__main__ import main

    history = main(["--epochs", "4", "--hidden-size", "8"])
    out = capsys.readouterr().out
    train = [h[0] for h in history]
    assert train[-1] < train[0]
    assert all(np.isfinite(h).all() for h in history)
    assert "persistence forecast" in out and "Seattle" in out


def test_demo_runs_as_module():
    res = subprocess.run(
        [sys.executable, "-m", "tsrnn", "--epochs", "1", "--hidden-size", "4", "--cell", "gru"],
        capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert "val RMSE" in res.stdout
    assert res.stderr == ""
