"""The stateful streaming mode: truncated BPTT(k1, k2) over substreams (against a NumPy
reference by central differences and against the same loop written in PyTorch), the
carried state (reading by reading == one pass over the stream), O(1) updates,
reproducibility, and bad input."""

import pickle
import signal
import warnings

import _reference as ref
import numpy as np
import pandas as pd
import pytest
from conftest import make_network, make_torch_net, sigint_at_call
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import tsrnn
from tsrnn import RNNRegressor, StreamingForecaster
from tsrnn._engine.network import Network
from tsrnn._engine.stream import CarriedState, StreamTrainer, schedule, substreams
from tsrnn._engine.training import TrainConfig


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# ------------------------------------------------------------------ the schedule
def _segments(L, k1, k2):
    """The definition, written out: windows end every k1 steps after the first k2; each
    runs k2 steps back (from the start at most) and has a loss on the steps since the
    previous end."""
    ends = [min(k2, L)]
    while ends[-1] < L:
        ends.append(min(ends[-1] + k1, L))
    return [(max(0, e - k2), 0 if s == 0 else ends[s - 1], e) for s, e in enumerate(ends)]


@pytest.mark.parametrize("L, k1, k2", [(23, 4, 7), (20, 5, 5), (6, 2, 9), (50, 1, 3),
                                       (31, 8, 12)])
def test_schedule_puts_every_step_in_one_loss_and_windows_k2_long(L, k1, k2):
    rows = schedule(L, k1, k2)
    assert [tuple(r[:3]) for r in rows] == _segments(L, k1, k2)
    loss_steps = np.concatenate([np.arange(p, e) for _, p, e, _ in rows])
    np.testing.assert_array_equal(loss_steps, np.arange(L))  # each step once, in order
    for s, (a, p, e, nxt) in enumerate(rows):
        assert e - a == min(k2, e) and e - p <= (min(k2, L) if s == 0 else k1)
        assert nxt == (rows[s + 1][0] if s + 1 < len(rows) else L)
    assert schedule(10, 3, 7)[:, :3].tolist() == [[0, 0, 7], [3, 7, 10]]
    with pytest.raises(ValueError, match="k1 <= k2"):
        schedule(10, 5, 4)


def test_substreams_drop_the_oldest_steps():
    assert substreams(103, 4) == (3, 25)
    with pytest.raises(ValueError, match="substreams"):
        substreams(3, 4)


# ------------------------------------------------------ TBPTT(k1, k2) gradients
C, H, O = 2, 3, 2


def _stream(B, L, seed=0, gaps=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(B, L, C))
    Y = rng.normal(size=(B, L, O))
    W = np.ones((B, L))
    if gaps:
        W[rng.random((B, L)) < 0.2] = 0.0  # steps without an observed target
    return X, Y, W


def _trainer(net, k1, k2, B, solver="sgd", lr=0.1, epochs=1):
    cfg = TrainConfig(loss="squared_error", solver=solver, learning_rate_init=lr, momentum=0.0,
                      nesterovs_momentum=False, batch_size=B, tol=0.0, n_iter_no_change=10**6,
                      return_sequences=True)
    return StreamTrainer(net, cfg, k1, k2)


def _frozen_start_loss(net, flat, X, Y, W, h0, a, p, e):
    """The TBPTT objective of one segment, by the reference forward: the weighted mean
    squared error of steps p..e-1 of the window a..e-1 run from the constant state h0."""
    weights = {name: flat[net._offs[k]:net._offs[k + 1]].reshape(shape)
               for k, (name, shape) in enumerate(net._shapes.items())}
    P = ref.ref_forward(net.cell, weights, X[:, a:e], num_layers=net.num_layers,
                        return_sequences=True, h0=h0)
    w = W[:, a:e].copy()
    w[:, :p - a] = 0
    return float((w[..., None] * (P - Y[:, a:e]) ** 2).sum() / (w.sum() * O))


def _recorded_grads(trainer, X, Y, W):
    """Run one epoch with updates switched off, recording each segment's gradient."""
    grads = []
    trainer.optimizer.step = lambda params, grad: grads.append(grad.copy())
    trainer.run(X, Y, W, epochs=1, rng=np.random.RandomState(0))
    return grads


def test_segment_gradients_are_those_of_the_newest_k1_losses_from_a_frozen_start():
    """The engine's gradient of every segment is the exact gradient (central differences
    of the NumPy reference) of the newest steps' loss, with the state k2 steps back held
    constant; the carried states are the reference's states of the whole substream."""
    B, L, k1, k2 = 2, 23, 4, 7
    X, Y, W = _stream(B, L)
    net = Network("rnn", input_size=C, hidden_size=H, output_size=O, dtype=np.float64,
                  random_state=1)
    flat = net.params.copy()
    grads = _recorded_grads(_trainer(net, k1, k2, B), X, Y, W)
    rows = schedule(L, k1, k2)
    assert len(grads) == len(rows)
    weights = net.state_dict()
    for (a, p, e, _), got in zip(rows, grads):
        # the state before step a, from the start of the substream (weights fixed)
        h0 = np.zeros((1, B, H)) if a == 0 else ref.ref_forward(
            "rnn", weights, X[:, :a], num_layers=1, return_state=True)[1][0]
        want = ref.numeric_grad(lambda f: _frozen_start_loss(net, f, X, Y, W, h0, a, p, e),
                                flat)
        assert ref.rel_error(got, want) < 1e-8, (a, p, e)


def _torch_tbptt(cell, weights, X, Y, W, k1, k2, epochs, lr):
    """The same training written in PyTorch: Adam, each segment's window run from the
    detached carried state, the next window's state computed before the update, each
    substream starting an epoch from the state the previous one ended the last with."""
    import torch

    B, L, _ = X.shape
    net = make_torch_net(cell, "tanh", C, H, 1, O, dtype=torch.float64)
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    Xt, Yt, Wt = (torch.from_numpy(a) for a in (X, Y, W))
    carry = None
    for _ in range(epochs):
        h = torch.zeros(1, B, H, dtype=torch.float64)
        c = torch.zeros(1, B, H, dtype=torch.float64)
        if carry is not None:
            h[:, 1:], c[:, 1:] = carry[0][:, :-1], carry[1][:, :-1]
        segs = _segments(L, k1, k2)
        for s, (a, p, e) in enumerate(segs):
            nxt = segs[s + 1][0] if s + 1 < len(segs) else L
            state = (h, c) if cell == "lstm" else h
            out, _ = net.rnn(Xt[:, a:e], state)
            P = net.head(out)
            w = Wt[:, a:e].clone()
            w[:, :p - a] = 0
            loss = (w[..., None] * (P - Yt[:, a:e]) ** 2).sum() / (w.sum() * O)
            opt.zero_grad()
            loss.backward()
            with torch.no_grad():
                _, state = net.rnn(Xt[:, a:nxt], state)
            h, c = state if cell == "lstm" else (state, c)
            opt.step()
        carry = (h, c)
    return {k: v.detach().numpy() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_two_epochs_of_tbptt_match_the_same_loop_in_pytorch(cell):
    pytest.importorskip("torch")
    B, L, k1, k2 = 3, 29, 5, 9
    X, Y, W = _stream(B, L, seed=2)
    rng = np.random.default_rng(3)
    weights = ref.random_weights(cell, C, H, 1, O, rng)
    net = make_network(cell, "tanh", weights, input_size=C, hidden_size=H, num_layers=1,
                       output_size=O)
    trainer = _trainer(net, k1, k2, B, solver="adam", lr=0.01)
    trainer.run(X, Y, W, epochs=2, rng=np.random.RandomState(0))
    want = _torch_tbptt(cell, weights, X, Y, W, k1, k2, epochs=2, lr=0.01)
    for name, value in net.state_dict().items():
        np.testing.assert_allclose(value, want[name], rtol=1e-9, atol=1e-11, err_msg=name)
    assert trainer.n_iter == 2 and trainer.t == 2 * B * L


# ------------------------------------------------------------- the forecaster
def _y(n=400, seed=0, freq="h"):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 10 + np.sin(2 * np.pi * t / 24) + 0.1 * np.cumsum(rng.normal(size=n))
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=n, freq=freq),
                     name="temp")


def _net(**kw):
    return RNNRegressor(**{"hidden_size": 4, "max_iter": 3, "learning_rate_init": 1e-2,
                           "dtype": np.float64, "batch_size": 2, **kw})


def _fc(**kw):
    return StreamingForecaster(**{"horizon": 3, "k1": 8, "estimator": _net(),
                                  "random_state": 0, **kw})


@pytest.fixture(scope="module")
def fitted():
    y = _y()
    return _fc().fit(y.iloc[:300]), y


def _reference_pass(fc, values):
    """The network's state and last output after one forward over ``values`` (n, K+P) from
    a zero state, i.e. over the whole stream at once."""
    U = fc.units_.inputs(values, None)
    out, (h, c) = fc.network_.forward(U[None], return_state=True)  # an LSTM: (h, c)
    return out[0], np.stack([h, c])


def test_updating_reading_by_reading_is_one_pass_over_the_whole_stream(fitted):
    fc, y = fitted
    fc = pickle.loads(pickle.dumps(fc))
    for i in range(300, 340):
        fc.update(y.iloc[i:i + 1])
    out, h = _reference_pass(fc, y.iloc[:340].to_numpy()[:, None])
    np.testing.assert_allclose(np.stack([fc._state.h, fc._state.c]), h, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fc._state.output, out, rtol=0, atol=1e-12)
    last = y.iloc[339]
    want = last + out.reshape(3, 1)[:, 0] * fc.units_.change[:, 0]
    pred = fc.predict()
    np.testing.assert_allclose(pred.to_numpy(), want, rtol=1e-12)
    pd.testing.assert_index_equal(pred.index, pd.date_range(y.index[340], periods=3,
                                                            freq="h"))
    assert fc.cutoff_ == y.index[339] and fc.n_readings_ == 340
    # many readings in one call: the same state as one at a time (to rounding: one call
    # projects 40 readings' inputs in one GEMM, OpenBLAS may round a 1-row GEMM otherwise)
    many = pickle.loads(pickle.dumps(fitted[0])).update(y.iloc[300:340])
    np.testing.assert_allclose(many._state.h, fc._state.h, rtol=0, atol=1e-12)
    pd.testing.assert_series_equal(many.predict(), pred, rtol=1e-12)


def test_fit_leaves_the_state_of_one_pass_over_the_fitted_stream(fitted):
    fc, y = fitted
    out, h = _reference_pass(fc, y.iloc[:300].to_numpy()[:, None])
    np.testing.assert_allclose(np.stack([fc._state.h, fc._state.c]), h, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fc._state.output, out, rtol=0, atol=1e-12)


def test_an_update_runs_one_recurrent_step_per_reading(fitted, monkeypatch):
    fc, y = fitted
    fc = pickle.loads(pickle.dumps(fc))
    calls = []
    real = Network._kernel_predict

    def spy(self, X, *args, **kwargs):
        calls.append(X.shape)
        return real(self, X, *args, **kwargs)

    monkeypatch.setattr(Network, "_kernel_predict", spy)
    fc.update(y.iloc[300:301]).predict()
    fc.update(y.iloc[301:305]).predict()
    fc.update(y.iloc[305:306])
    # one kernel call per update, of as many steps as readings: the stream already seen
    # (300 readings) is never read again, and predict runs no network at all
    assert calls == [(1, 1, 2), (1, 4, 2), (1, 1, 2)]


def test_a_given_seed_gives_the_same_model_bit_for_bit(fitted):
    fc, y = fitted
    again = clone(fc).fit(y.iloc[:300])
    np.testing.assert_array_equal(again.network_.params, fc.network_.params)
    assert again.loss_curve_ == fc.loss_curve_
    pd.testing.assert_series_equal(again.predict(), fc.predict())
    other = _fc(random_state=1).fit(y.iloc[:300])
    assert not np.array_equal(other.network_.params, fc.network_.params)


def test_pickle_keeps_the_state_and_updates_continue_alike(fitted):
    fc, y = fitted
    a = pickle.loads(pickle.dumps(fc)).update(y.iloc[300:310])
    b = pickle.loads(pickle.dumps(fc)).update(y.iloc[300:310])
    pd.testing.assert_series_equal(a.predict(), b.predict())


def test_scikit_learn_parameters_compose_the_estimator():
    fc = StreamingForecaster(horizon=2)
    assert fc.get_params()["estimator"] is None
    fc.set_params(estimator__hidden_size=5)
    assert isinstance(fc.estimator, RNNRegressor) and fc.estimator.hidden_size == 5
    assert fc.estimator.early_stopping  # the streaming defaults, then the change
    assert clone(fc).get_params()["estimator__hidden_size"] == 5
    with pytest.raises(TypeError, match="RNNRegressor"):
        StreamingForecaster(estimator=object()).fit(_y())


def test_quiet_by_default(capsys):
    _fc().fit(_y(200))
    assert capsys.readouterr() == ("", "")


def test_k2_is_the_estimators_bptt_steps_and_batch_size_the_substreams():
    fc = _fc(estimator=_net(bptt_steps=12, batch_size=3)).fit(_y(300))
    assert (fc.k2_, fc.n_streams_) == (12, 3)
    assert _fc().fit(_y(300)).k2_ == 16  # 2 * k1 by default
    with pytest.raises(ValueError, match="k2"):
        _fc(estimator=_net(bptt_steps=4)).fit(_y(300))
    with pytest.raises(ValueError, match="quantile"):
        _fc(estimator=_net(loss="quantile", quantiles=[0.5])).fit(_y(300))


def test_early_stopping_scores_the_held_out_end_and_keeps_its_best():
    fc = _fc(estimator=_net(early_stopping=True, max_iter=6, n_iter_no_change=100)).fit(_y())
    assert len(fc.validation_scores_) == fc.n_iter_ == 6
    assert fc.best_validation_score_ == max(fc.validation_scores_)


def test_a_frame_with_covariates_and_several_targets():
    y = _y(300)
    frame = pd.DataFrame({"a": y, "b": y.to_numpy()[::-1].copy()}, index=y.index)
    X = pd.DataFrame({"x": np.cos(np.arange(300))}, index=y.index)
    fc = _fc().fit(frame.iloc[:250], X.iloc[:250])
    assert fc.network_.input_size == 5 and fc.network_.output_size == 6
    fc.update(frame.iloc[250:252], X.iloc[250:252])
    out = fc.predict()
    assert list(out.columns) == ["a", "b"] and out.shape == (3, 2)
    with pytest.raises(ValueError, match="`X` must hold the covariates"):
        fc.update(frame.iloc[252:253])


def test_missing_readings_are_carried_forward_and_the_clock_keeps_running():
    y = _y(300)
    gappy = y.drop(y.index[100:103])  # three missing timestamps: missing rows on the grid
    fc = _fc().fit(gappy.iloc[:247])  # up to y's row 249
    assert fc.n_readings_ == 250
    nan = y.iloc[250:252].copy()
    nan.iloc[1] = np.nan
    a = pickle.loads(pickle.dumps(fc)).update(nan)
    filled = nan.copy()
    filled.iloc[1] = nan.iloc[0]
    b = pickle.loads(pickle.dumps(fc)).update(filled)
    pd.testing.assert_series_equal(a.predict(), b.predict())
    strict = _fc(missing="raise")
    with pytest.raises(ValueError, match="missing values"):
        strict.fit(gappy)


# ------------------------------------------------------------------ bad input
def _snapshot(fc):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(fc).items()}, \
        fc._state.h.copy(), fc.predict()


@pytest.mark.parametrize("make, error, match", [
    (lambda y: y.iloc[301:302], ValueError, r"after 2024-01-13 11:00:00 comes 2024-01-13 "
                                            r"12:00:00, but `y` has 2024-01-13 13:00:00"),
    (lambda y: y.iloc[[300, 302]], ValueError, r"`y` has 2024-01-13 14:00:00 \(row 1\)"),
    (lambda y: y.iloc[299:301], ValueError, "starts at 2024-01-13 11:00:00, which is not "
                                            "after the last reading"),
    (lambda y: y.iloc[[301, 300]], ValueError, "not sorted"),
    (lambda y: y.iloc[[300, 300]], ValueError, "duplicate"),
    (lambda y: y.iloc[300:300], ValueError, "no readings"),
    (lambda y: y.iloc[300:301].to_frame("other"), ValueError, "fitted columns"),
    (lambda y: y.iloc[300:301].astype(str), TypeError, "non-numeric"),
    (lambda y: y.iloc[300:301].reset_index(drop=True), TypeError, "DatetimeIndex"),
    (lambda y: y.iloc[300:301].tz_localize("UTC"), ValueError, "tz=UTC"),
    (lambda y: y.iloc[300:301].to_numpy(), TypeError, "pandas Series or DataFrame"),
    (lambda y: y.iloc[300:301] * np.inf, ValueError, "infinite"),
    (lambda y: pd.Series([1.0], index=[y.index[299] + pd.Timedelta("90min")]), ValueError,
     "does not continue the stream"),
])
def test_bad_updates_name_the_argument_and_change_nothing(fitted, make, error, match):
    fc, y = fitted
    fc = pickle.loads(pickle.dumps(fc))
    before, h, pred = _snapshot(fc)
    with pytest.raises(error, match=match):
        fc.update(make(y))
    after, h2, pred2 = _snapshot(fc)
    assert after.keys() == before.keys() and after["cutoff_"] == before["cutoff_"]
    assert after["n_readings_"] == before["n_readings_"]
    np.testing.assert_array_equal(h2, h)
    pd.testing.assert_series_equal(pred2, pred)
    fc.update(y.iloc[300:301])  # and the stream goes on


def test_nan_with_missing_raise_and_covariates_without_fit_are_refused():
    y = _y(300)
    fc = _fc(missing="raise").fit(y.iloc[:250])
    bad = y.iloc[250:251] * np.nan
    with pytest.raises(ValueError, match=r"missing values \(1 rows, e.g. \['2024-01-11 "
                                         r"10:00:00'\]\) and `missing`='raise'"):
        fc.update(bad)
    with pytest.raises(ValueError, match="without covariates"):
        fc.update(y.iloc[250:251], X=pd.DataFrame({"x": [1.0]}, index=y.index[250:251]))
    assert fc.cutoff_ == y.index[249]


def test_update_and_predict_before_fit_raise_not_fitted():
    with pytest.raises(NotFittedError):
        StreamingForecaster().update(_y(5))
    with pytest.raises(NotFittedError):
        StreamingForecaster().predict()


def test_parameters_changed_after_fit_are_refused_until_refit(fitted):
    fc, y = fitted
    fc = clone(fc).fit(y.iloc[:300]).set_params(horizon=5)
    with pytest.raises(ValueError, match="`horizon`=5 .fitted with 3. changed since fit"):
        fc.predict()


@pytest.mark.parametrize("kw, match", [
    (dict(horizon=0), "`horizon`"), (dict(k1=0), "`k1`"), (dict(missing="drop"), "`missing`"),
    (dict(estimator=_net(warm_start=True)), "warm_start"),
    (dict(estimator=_net(hidden_size=0)), "`hidden_size`"),
])
def test_bad_parameters(kw, match):
    with pytest.raises((TypeError, ValueError), match=match):
        _fc(**kw).fit(_y(200))


def test_a_stream_too_short_for_its_substreams_is_refused_with_the_numbers():
    with pytest.raises(ValueError, match=r"30 readings .* 27 of them for training once early "
                                         r"stopping holds out 3; 2 substreams .* k2=16 steps need 32"):
        _fc(estimator=_net(early_stopping=True)).fit(_y(30))


def test_a_failed_refit_leaves_the_model_as_it_was(fitted):
    fc, y = fitted
    fc = pickle.loads(pickle.dumps(fc))
    pred = fc.predict()
    with pytest.raises(TypeError):
        fc.fit(y.iloc[:300].astype(str))
    pd.testing.assert_series_equal(fc.predict(), pred)


# -------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_during_fit_keeps_the_best_weights_and_a_usable_model(monkeypatch):
    y = _y()
    fc = _fc(estimator=_net(max_iter=20))
    per_epoch = len(schedule(300 // 2, 8, 16))  # segments of an epoch, with 2 substreams
    sigint_at_call(monkeypatch, 2 * per_epoch + 1)  # in the third epoch
    with pytest.warns(UserWarning, match="interrupted after 2 epochs"):
        fc.fit(y.iloc[:300])
    assert fc.n_iter_ == len(fc.loss_curve_) == 2
    assert np.isfinite(fc.update(y.iloc[300:301]).predict()).all()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_inside_a_raising_scope_raises_and_leaves_the_model_as_it_was(fitted,
                                                                          monkeypatch):
    from tsrnn._engine import interrupts

    fc, y = fitted
    fc = pickle.loads(pickle.dumps(fc))
    pred = fc.predict()
    sigint_at_call(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred(raise_on_exit=True):
            fc.fit(y.iloc[:200])
    pd.testing.assert_series_equal(fc.predict(), pred)


# ------------------------------------------------------------------ model files
def test_model_files_refuse_it_with_a_pointer_to_pickle(fitted, tmp_path):
    with pytest.raises(TypeError, match="StreamingForecaster.*pickle"):
        tsrnn.save(fitted[0], tmp_path / "m.tsrnn")


def test_long_runs_go_in_blocks_with_the_same_result(fitted, monkeypatch):
    """Validation and the carried state run long one-row stretches in blocks of
    ``stream.BLOCK`` steps, carrying the state between them: as one call."""
    from tsrnn._engine import stream

    fc, _ = fitted
    net = fc.network_
    U = np.random.default_rng(1).normal(size=(1, 23, net.input_size))
    Y = np.random.default_rng(2).normal(size=(1, 23, net.output_size))
    W = (np.arange(23) % 5 != 0).astype(np.float64)[None]
    trainer = _trainer(net, 4, 8, 2)
    trainer.carry = tuple(np.random.default_rng(3).normal(size=(2, 1, 2, 4)))
    carry = [a.copy() for a in trainer.carry]
    whole = trainer.evaluate(U, Y, W)
    one = CarriedState(net).advanced(U[0])
    monkeypatch.setattr(stream, "BLOCK", 5)
    np.testing.assert_allclose(trainer.evaluate(U, Y, W), whole, rtol=1e-13)
    for got, want in zip(trainer.carry, carry):
        np.testing.assert_array_equal(got, want)  # the carried state is read, not written
    blocks = CarriedState(net).advanced(U[0])
    np.testing.assert_array_equal(blocks.h, one.h)
    np.testing.assert_array_equal(blocks.c, one.c)
    np.testing.assert_array_equal(blocks.output, one.output)
    assert blocks.steps == 23


def test_the_carried_state_steps_like_the_network(fitted):
    fc, _ = fitted
    net = fc.network_
    state = CarriedState(net)
    U = np.random.default_rng(0).normal(size=(5, net.input_size))
    one = state.advanced(U)
    out, (h, c) = net.forward(U[None], return_state=True)
    np.testing.assert_array_equal(one.h, h)
    np.testing.assert_array_equal(one.c, c)
    np.testing.assert_array_equal(one.output, out[0])
    assert (state.steps, one.steps) == (0, 5) and not state.h.any()  # state unchanged
