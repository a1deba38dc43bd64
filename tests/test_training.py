"""The training loop's promises: interrupts (real SIGINTs), progress, schedules, dropout,
determinism."""

import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import sigint_at_call
from sklearn.exceptions import ConvergenceWarning

from tsrnn import RNNEnsembleForecaster, RNNForecaster, RNNRegressor
from tsrnn._engine import interrupts
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
    reg = RNNRegressor(**{**FAST, "max_iter": 60}, n_iter_no_change=3, tol=10.0,
                       learning_rate="constant").fit(X, y)
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


# ---------------------------------------------------------------- Ctrl-C, with real SIGINTs
# sent to this (main-thread) process at chosen kernel calls, and to a child process at
# arbitrary moments.
INT = dict(hidden_size=8, learning_rate_init=1e-2, max_iter=30, random_state=0,
           batch_size=20, tol=0.0, n_iter_no_change=1000)
N = 120  # six minibatches per epoch


@pytest.mark.parametrize("call", [1, 3, 6, 7, 20, 41])
def test_estimator_ends_with_best_weights_and_consistent_history(monkeypatch, call):
    X, y = _data()
    sigint_at_call(monkeypatch, call)
    reg = RNNRegressor(**INT)
    with pytest.warns(UserWarning, match="interrupted after"):
        reg.fit(X, y)
    done = (call - 1) // 6  # epochs finished before the interrupted minibatch
    assert reg.n_iter_ == done == len(reg.loss_curve_)
    assert reg.t_ == done * N
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.undo()
    # the weights the best (here: the last finished) epoch started from, or the initial ones
    ref = RNNRegressor(**{**INT, "max_iter": max(done - 1, 1)}).fit(X, y)
    if done <= 1:
        ref.network_.reset_parameters(np.random.RandomState(0))
    np.testing.assert_array_equal(reg.network_.params, ref.network_.params)
    assert np.isfinite(reg.predict(X)).all()


def test_interrupt_with_early_stopping_restores_the_validation_best(monkeypatch):
    X, y = _data()
    kw = dict(INT, early_stopping=True, batch_size=18)
    full = RNNRegressor(**{**kw, "max_iter": 4}).fit(X, y)
    sigint_at_call(monkeypatch, 4 * 6 + 2)  # inside the fifth epoch (six batches of 18)
    with pytest.warns(UserWarning, match="interrupted after 4 epochs"):
        reg = RNNRegressor(**kw).fit(X, y)
    np.testing.assert_array_equal(reg.network_.params, full.network_.params)
    assert reg.validation_scores_ == full.validation_scores_


def test_system_error_from_an_interrupt_inside_a_kernel_call_is_an_interrupt(monkeypatch):
    X, y = _data()
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as ki:
        err = SystemError("CPUDispatcher(<function run>) returned a result with an exception set")
        err.__cause__ = ki
    sigint_at_call(monkeypatch, 9, exc=err)
    with pytest.warns(UserWarning, match="interrupted after 1 epochs"):
        reg = RNNRegressor(**INT).fit(X, y)
    assert reg.n_iter_ == len(reg.loss_curve_) == 1
    other = SystemError("an unrelated failure")
    sigint_at_call(monkeypatch, 2, exc=other)
    with pytest.raises(SystemError, match="unrelated"):
        RNNRegressor(**INT).fit(X, y)


def test_warm_start_interrupt_is_reported_and_the_call_keeps_its_best(monkeypatch):
    X, y = _data()
    reg = RNNRegressor(**{**INT, "max_iter": 3}, warm_start=True).fit(X, y)
    sigint_at_call(monkeypatch, 2)
    with pytest.warns(UserWarning, match="interrupted after 3 epochs"):
        reg.fit(X, y)
    assert reg.n_iter_ == len(reg.loss_curve_) == 3
    np.testing.assert_array_equal(reg.network_.params, reg._trainer._best_params)


def _series(n=90):
    idx = pd.date_range("2021-01-01", periods=n, freq="D")
    return pd.Series(np.sin(np.arange(n) / 4.0) + 0.05 * np.arange(n) % 3, index=idx, name="y")


def _forecaster():
    return RNNForecaster(lags=8, horizon=2, estimator=RNNRegressor(
        hidden_size=4, max_iter=40, batch_size=8, tol=0.0, n_iter_no_change=1000,
        random_state=0))


def test_forecaster_raises_keyboard_interrupt_and_stays_as_it_was(monkeypatch):
    y = _series()
    fc = _forecaster()
    calls = sigint_at_call(monkeypatch, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "interrupted" warning either
        with pytest.raises(KeyboardInterrupt):
            fc.fit(y)
    assert calls["n"] == 5  # stopped at the next minibatch: nothing more was trained
    assert not hasattr(fc, "estimator_")
    monkeypatch.undo()
    fitted = _forecaster().fit(y)
    expected = fitted.predict()
    sigint_at_call(monkeypatch, 12)
    with pytest.raises(KeyboardInterrupt):
        fitted.fit(y.iloc[:-5])
    pd.testing.assert_series_equal(fitted.predict(), expected)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ensemble_stops_every_member_and_raises(monkeypatch):
    y = _series()
    ens = RNNEnsembleForecaster(_forecaster(), n_models=3, random_state=0)
    calls = sigint_at_call(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        ens.fit(y)
    assert calls["n"] <= 3 + 2  # at most one more minibatch per other running member
    assert not hasattr(ens, "members_")


def test_scopes_nest_and_the_outermost_decides():
    with interrupts.deferred(raise_on_exit=False):
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupts.requested() and not interrupts.will_raise()
        interrupts.checkpoint()  # does not raise: the fit reports it
    assert not interrupts.requested()
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred(raise_on_exit=True):
            with interrupts.deferred(raise_on_exit=False):
                os.kill(os.getpid(), signal.SIGINT)
            assert interrupts.requested()  # an inner scope does not swallow it
    with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C raises at once
        with interrupts.deferred(raise_on_exit=False):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_program_with_its_own_sigint_handler_keeps_it():
    seen = []
    old = signal.signal(signal.SIGINT, lambda *a: seen.append(1))
    try:
        with interrupts.deferred(raise_on_exit=True):
            os.kill(os.getpid(), signal.SIGINT)
            assert not interrupts.requested()
        assert seen == [1]
    finally:
        signal.signal(signal.SIGINT, old)


_CHILD = """
import warnings, numpy as np
from tsrnn import RNNRegressor
rng = np.random.default_rng(0)
X = rng.normal(size=(2000, 20, 2)); y = X[:, -1, 0] + X[:, :, 1].sum(1)
reg = RNNRegressor(hidden_size=32, max_iter=100000, tol=0.0, n_iter_no_change=100000,
                   random_state=0, n_jobs={n_jobs})
print("ready", flush=True)
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    try:
        reg.fit(X, y)
    except KeyboardInterrupt:  # before training started: raised, nothing was changed
        print("raised before training", sorted(vars(reg)) == sorted(reg.get_params()))
        raise SystemExit(0)
print("warned", [str(x.message)[:40] for x in w if "interrupted" in str(x.message)])
print("consistent", reg.n_iter_ == len(reg.loss_curve_), reg.t_ == 2000 * reg.n_iter_,
      bool(np.isfinite(reg.predict(X[:50])).all()), flush=True)
"""


@pytest.mark.parametrize("n_jobs,delay", [(1, 0.05), (2, 0.6), (2, 1.7)])
def test_a_real_ctrl_c_at_any_moment_ends_the_fit_cleanly(n_jobs, delay):
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(n_jobs=n_jobs)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "SystemError" not in err and "Traceback" not in err
    if "raised before training" in out:  # a loaded machine may still be preparing data
        assert "raised before training True" in out
        return
    assert "warned ['Training interrupted after" in out
    assert "consistent True True True" in out


@pytest.mark.parametrize("backend", ["threading", "sequential"])
def test_fit_many_in_process_stops_every_series_and_raises(monkeypatch, backend):
    from joblib import parallel_config

    from tsrnn.model_selection import fit_many

    panel = pd.DataFrame({f"s{i}": _series().to_numpy() * (i + 1) for i in range(4)},
                         index=_series().index)
    calls = sigint_at_call(monkeypatch, 4)
    with parallel_config(backend=backend, n_jobs=2), pytest.raises(KeyboardInterrupt):
        fit_many(_forecaster(), panel)
    # the handler runs when the main thread next gets the GIL: a running worker may take a
    # few more minibatches first, of the ~1,600 that the fits would take
    time.sleep(0.3)  # a minibatch still inside its kernel call finishes
    assert calls["n"] < 60
    seen = calls["n"]
    time.sleep(0.5)
    assert calls["n"] == seen  # nothing goes on training in the background
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
