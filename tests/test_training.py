"""The training loop's promises: interruption, progress, schedules, dropout, determinism."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from tsrnn import RNNRegressor
from tsrnn._engine.training import Trainer

FAST = dict(hidden_size=8, learning_rate_init=1e-2, max_iter=15, random_state=0)


def _data(n=120, T=8, C=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, C))
    return X, X[:, -1, 0] - X[:, -2, 1]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_keyboard_interrupt_keeps_best_weights_and_a_usable_model(monkeypatch):
    X, y = _data()
    calls = {"n": 0}
    real_epoch = Trainer._epoch

    def epoch(self, *args):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_epoch(self, *args)

    monkeypatch.setattr(Trainer, "_epoch", epoch)
    reg = RNNRegressor(**FAST)
    with pytest.warns(UserWarning, match="interrupted after 3 epochs"):
        reg.fit(X, y)
    assert reg.n_iter_ == 3
    best = int(np.argmin(reg.loss_curve_))
    assert reg.best_loss_ == reg.loss_curve_[best]
    assert np.isfinite(reg.predict(X)).all()


def test_quiet_by_default_and_progress_bar_when_verbose(capsys):
    X, y = _data()
    RNNRegressor(**FAST).fit(X, y)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    RNNRegressor(**FAST, verbose=True).fit(X, y)
    err = capsys.readouterr().err
    assert "tsrnn fit" in err and "15/15" in err


def test_a_verbose_fit_says_once_that_it_compiles(capsys, monkeypatch):
    import tsrnn._engine.training as training

    X, y = _data()
    RNNRegressor(**FAST, verbose=True).fit(X, y)  # compiled: no word about it
    assert "compiling" not in capsys.readouterr().err
    monkeypatch.setattr(training, "is_compiled", lambda kernel, dtype: False)
    RNNRegressor(**FAST, verbose=True, cell="gru").fit(X, y)
    err = capsys.readouterr().err
    assert err.count("tsrnn: compiling the GRU kernels (float32) for first use") == 1
    assert err.index("compiling") < err.index("tsrnn fit")  # before the bar
    RNNRegressor(**FAST).fit(X, y)  # quiet fits say nothing either way
    assert capsys.readouterr().err == ""


def test_fit_writes_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X, y = _data()
    RNNRegressor(**FAST, verbose=True).fit(X, y).predict(X)
    assert list(tmp_path.iterdir()) == []


def test_plateau_schedule_lowers_the_learning_rate():
    X, y = _data()
    reg = RNNRegressor(**{**FAST, "max_iter": 60}, learning_rate="plateau", n_iter_no_change=2,
                       tol=10.0).fit(X, y)  # tol so large that every epoch is a plateau
    assert reg._trainer.optimizer.learning_rate < FAST["learning_rate_init"] / 5 ** 3
    assert reg.n_iter_ < 60  # stopped once the rate fell below 1e-6


def test_constant_schedule_stops_on_plateau():
    X, y = _data()
    reg = RNNRegressor(**{**FAST, "max_iter": 60}, n_iter_no_change=3, tol=10.0).fit(X, y)
    assert reg.n_iter_ == 4  # the first epoch sets the best loss, three more without gain
    assert reg._trainer.optimizer.learning_rate == FAST["learning_rate_init"]


def test_dropout_is_used_deterministically():
    X, y = _data()
    kw = dict(**FAST, num_layers=2)
    plain = RNNRegressor(**kw).fit(X, y).predict(X)
    d1 = RNNRegressor(**kw, dropout=0.3).fit(X, y).predict(X)
    d2 = RNNRegressor(**kw, dropout=0.3).fit(X, y).predict(X)
    np.testing.assert_array_equal(d1, d2)
    assert not np.array_equal(plain, d1)


def test_sgd_solver_and_clipping_train():
    X, y = _data()
    reg = RNNRegressor(**{**FAST, "max_iter": 40, "learning_rate_init": 0.05}, solver="sgd",
                       clip_norm=1.0, bptt_steps=4).fit(X, y)
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]


_SCRIPT = """
import numpy as np, warnings
warnings.simplefilter("ignore")
from tsrnn import RNNRegressor
rng = np.random.default_rng(0)
X = rng.normal(size=(120, 8, 2)); y = X[:, -1, 0] - X[:, -2, 1]
p = RNNRegressor(hidden_size=8, learning_rate_init=1e-2, max_iter=5, random_state=0,
                 n_jobs={n_jobs}).fit(X, y).predict(X)
print(p.astype(np.float64).tobytes().hex())
"""


def test_bitwise_identical_across_processes_and_n_jobs():
    outs = [
        subprocess.run([sys.executable, "-c", _SCRIPT.format(n_jobs=n)], capture_output=True,
                       text=True, timeout=600, check=True).stdout
        for n in (1, 2)
    ]
    X, y = _data()
    here = RNNRegressor(hidden_size=8, learning_rate_init=1e-2, max_iter=5, random_state=0,
                        n_jobs=2).fit(X, y).predict(X)
    assert outs[0] == outs[1] == here.astype(np.float64).tobytes().hex() + "\n"
