"""Encoder-decoder networks and ``RNNForecaster(strategy="seq2seq")``.

The engine's ``EncoderDecoder`` is checked against its definition written with the
public ``Network`` API (the encoder's final state as the decoder's ``h0``), against
central differences of its own loss, and against two PyTorch modules trained by
autograd where torch is installed; the forecaster end to end (fit, forecasts,
intervals, quantiles, backtests, model files, many series) and its bad input.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from _reference import assert_params_gradient

from tsrnn import RNNForecaster, RNNRegressor, load, save
from tsrnn._engine.network import Network
from tsrnn._engine.seq2seq import EncoderDecoder, read_mask
from tsrnn.model_selection import backtest

CELLS = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("rnn", "relu")]
IDS = ["lstm", "gru", "rnn-tanh", "rnn-relu"]
C, H, L, TD, K, TE = 4, 3, 2, 3, 2, 5  # packed channels, hidden, layers, decoder steps


def _model(cell="lstm", act="tanh", dtype=np.float64, seed=0, **kw):
    return EncoderDecoder(cell, C, H, L, TD * K, decoder_steps=TD, encoder_inputs=3,
                          decoder_inputs=2, activation=act, dtype=dtype, random_state=seed,
                          **kw)


def _data(n=5, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, TE + TD, C)), rng.normal(size=(n, TD, K)), rng.random(n) + 0.5


def _by_hand(m, X):
    """The definition: the encoder over the window's first channels, its final state as
    the decoder's initial state over the decoder's channels."""
    _, state = m.encoder.forward(X[:, :TE, :3], return_state=True)
    return m.decoder.forward(X[:, TE:, C - 2:], return_sequences=True, h0=state)


# ---------------------------------------------------------------- headless network
@pytest.mark.parametrize("cell,act", CELLS, ids=IDS)
def test_headless_network_returns_its_state_and_trains_through_it(cell, act):
    net = Network(cell, input_size=2, hidden_size=3, num_layers=2, output_size=0,
                  activation=act, dtype=np.float64, random_state=0)
    assert net.state_dict()["head.weight"].shape == (0, 3)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 5, 2))
    out, state = net.forward(X, return_state=True)
    assert out.shape == (4, 0)
    G = tuple(rng.normal(size=(2, 4, 3)) for _ in range(2 if cell == "lstm" else 1))
    hN_grad = G if cell == "lstm" else G[0]
    loss, grads = net.loss_grad(X, None, hN_grad=hN_grad)
    assert loss == 0.0

    def objective():
        _, s = net.forward(X, return_state=True)
        parts = s if cell == "lstm" else (s,)
        return sum(float((a * g).sum()) for a, g in zip(parts, G))

    assert_params_gradient(net, objective, grads)


def test_headless_network_refuses_targets_and_logits():
    net = Network("gru", input_size=2, hidden_size=3, output_size=0, dtype=np.float64)
    X = np.zeros((3, 4, 2))
    with pytest.raises(ValueError, match="headless.*takes no targets"):
        net.loss_grad(X, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="headless.*cross_entropy"):
        net.loss_grad(X, np.zeros(3, int), loss="cross_entropy")


# ------------------------------------------------------------------ the engine
@pytest.mark.parametrize("cell,act", CELLS, ids=IDS)
def test_forward_is_the_encoder_state_fed_to_the_decoder(cell, act):
    m = _model(cell, act)
    X, _, _ = _data()
    np.testing.assert_allclose(m.forward(X), _by_hand(m, X), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("loss", ["squared_error", "huber", "quantile"])
@pytest.mark.parametrize("cell,act", CELLS, ids=IDS)
def test_gradient_matches_central_differences(cell, act, loss):
    qs = [0.2, 0.5, 0.9] if loss == "quantile" else None
    out = TD * K * (3 if qs else 1)
    m = EncoderDecoder(cell, C, H, L, out, decoder_steps=TD, encoder_inputs=3,
                       decoder_inputs=2, activation=act, dtype=np.float64, random_state=2)
    X, Y, sw = _data()
    kw = dict(sample_weight=sw, quantiles=qs, huber_delta=0.3)
    _, grads = m.loss_grad(X, Y, loss, **kw)
    # the pinball and Huber losses have kinks; away from them the match is exact
    assert_params_gradient(m, lambda: m.loss_grad(X, Y, loss, **kw)[0], grads, rtol=1e-5,
                           atol=1e-7)


def test_loss_is_the_decoders_per_step_loss():
    m = _model("gru")
    X, Y, sw = _data()
    P = _by_hand(m, X)
    expected = np.sum(sw[:, None, None] * (P - Y) ** 2) / (sw.sum() * TD * K)
    assert m.loss_grad(X, Y, sample_weight=sw)[0] == pytest.approx(expected, rel=1e-13)
    # Y flattened step-major is the same targets
    assert m.loss_grad(X, Y.reshape(len(Y), -1), sample_weight=sw)[0] == \
        pytest.approx(expected, rel=1e-13)


def test_truncation_counts_from_the_window_end_and_spares_the_decoder():
    m = _model("lstm")
    X, Y, _ = _data()
    _, full = m.loss_grad(X, Y)
    _, cut = m.loss_grad(X, Y, bptt_steps=2)
    for k in full:
        if k.startswith("decoder."):
            np.testing.assert_array_equal(cut[k], full[k], err_msg=k)
    assert not np.allclose(cut["encoder.rnn.weight_ih_l0"], full["encoder.rnn.weight_ih_l0"])
    # truncation at the window's length is none
    _, same = m.loss_grad(X, Y, bptt_steps=TE)
    for k in full:
        np.testing.assert_array_equal(same[k], full[k], err_msg=k)


def test_dropout_masks_split_between_encoder_and_decoder():
    m = _model("gru")
    X, Y, _ = _data()
    rng = np.random.default_rng(3)
    masks = (rng.random((L - 1, len(X), TE + TD, H)) > 0.3) / 0.7

    _, grads = m.loss_grad(X, Y, dropout_masks=masks)
    assert_params_gradient(m, lambda: m.loss_grad(X, Y, dropout_masks=masks)[0], grads,
                           atol=1e-8)
    # the masks change the result (they are read)
    assert m.loss_grad(X, Y)[0] != m.loss_grad(X, Y, dropout_masks=masks)[0]


def test_embedding_feeds_the_encoder_and_gets_its_gradient():
    m = _model("lstm", num_embeddings=3, embedding_dim=2)
    rng = np.random.default_rng(4)
    m.embedding[...] = rng.normal(size=(3, 2))
    X, Y, _ = _data(n=6)
    groups = np.array([0, 1, 2, 0, 1, 2])
    _, grads = m.loss_grad(X, Y, groups=groups)
    assert "encoder.embedding.weight" in grads
    assert_params_gradient(m, lambda: m.loss_grad(X, Y, groups=groups)[0], grads, atol=1e-8)


def test_results_do_not_depend_on_threads():
    m = _model("lstm", dtype=np.float32)
    X, Y, _ = _data(n=70)
    a = m.loss_grad(X, Y, n_jobs=1)
    b = m.loss_grad(X, Y, n_jobs=2)
    assert a[0] == b[0]
    for k in a[1]:
        np.testing.assert_array_equal(a[1][k], b[1][k], err_msg=k)
    np.testing.assert_array_equal(m.forward(X, n_jobs=1), m.forward(X, n_jobs=2))


@pytest.mark.parametrize("cell,act", CELLS, ids=IDS)
def test_matches_pytorch_encoder_decoder(cell, act):
    torch = pytest.importorskip("torch")
    from conftest import torch_module_class

    m = _model(cell, act, seed=5)
    X, Y, _ = _data(seed=6)
    kw = {"nonlinearity": act} if cell == "rnn" else {}
    enc = torch_module_class(cell)(3, H, L, batch_first=True, **kw).double()
    dec = torch_module_class(cell)(2, H, L, batch_first=True, **kw).double()
    head = torch.nn.Linear(H, K).double()
    sd = m.state_dict()
    with torch.no_grad():
        for mod, prefix in ((enc, "encoder.rnn."), (dec, "decoder.rnn.")):
            for name, p in mod.named_parameters():
                p.copy_(torch.from_numpy(sd[prefix + name]))
        head.weight.copy_(torch.from_numpy(sd["decoder.head.weight"]))
        head.bias.copy_(torch.from_numpy(sd["decoder.head.bias"]))
    _, state = enc(torch.from_numpy(X[:, :TE, :3]))
    out, _ = dec(torch.from_numpy(X[:, TE:, 2:]), state)
    P = head(out)
    torch.nn.functional.mse_loss(P, torch.from_numpy(Y)).backward()
    np.testing.assert_allclose(m.forward(X), P.detach().numpy(), rtol=1e-12, atol=1e-13)
    _, grads = m.loss_grad(X, Y)
    for mod, prefix in ((enc, "encoder.rnn."), (dec, "decoder.rnn.")):
        for name, p in mod.named_parameters():
            np.testing.assert_allclose(grads[prefix + name], p.grad.numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=prefix + name)
    np.testing.assert_allclose(grads["decoder.head.weight"], head.weight.grad.numpy(),
                               rtol=1e-9, atol=1e-12)


def test_read_mask_and_layout_errors():
    m = _model()
    read = read_mask(m.config, TE + TD)
    assert read[:TE, :3].all() and not read[:TE, 3].any()
    assert read[TE:, 2:].all() and not read[TE:, :2].any()
    with pytest.raises(ValueError, match="`output_size`=7 must be a multiple of "
                                         "`decoder_steps`=3"):
        EncoderDecoder("gru", C, H, 1, 7, decoder_steps=3, encoder_inputs=3,
                       decoder_inputs=2)
    with pytest.raises(ValueError, match="`decoder_inputs`=5 exceeds"):
        EncoderDecoder("gru", C, H, 1, 6, decoder_steps=3, encoder_inputs=3,
                       decoder_inputs=5)
    for bad in (np.zeros((2, 3, C)), np.zeros((0, 8, C))):
        with pytest.raises(ValueError, match=r"`X` must have shape \(n, T, 4\) with n >= 1"):
            m.forward(bad)
    for Y in (np.zeros((2, 3, 3)), np.zeros((3, 3, 2))):
        with pytest.raises(ValueError, match="`Y` must have shape"):
            m.loss_grad(np.zeros((2, 8, C)), Y)
    with pytest.raises(ValueError, match="cross_entropy"):
        m.loss_grad(np.zeros((2, 8, C)), np.zeros((2, 3, 2)), loss="cross_entropy")


# ---------------------------------------------------------------- the forecaster
def _weather(n=400):
    from tsrnn.datasets import load_weather

    y = load_weather()["temp_max"].iloc[:n]
    day = y.index.day_of_year.to_numpy()
    X = pd.DataFrame({"season_sin": np.sin(2 * np.pi * day / 365.25),
                      "season_cos": np.cos(2 * np.pi * day / 365.25)}, index=y.index)
    return y, X


def _fc(**kw):
    net = RNNForecaster.default_estimator(hidden_size=6, max_iter=3)
    return RNNForecaster(**{"lags": 14, "horizon": 4, "strategy": "seq2seq",
                            "estimator": net, "random_state": 0, **kw})


def _fit(fc, y, X=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fc.fit(y, X)


def test_forecaster_fits_an_encoder_decoder_with_covariates():
    y, X = _weather()
    fc = _fit(_fc(), y.iloc[:-4], X.iloc[:-4])
    net = fc.estimator_.network_
    assert isinstance(net, EncoderDecoder)
    # encoder: target + 2 covariates; decoder: 2 covariates + its place in the horizon
    assert (net.decoder_steps, net.encoder_inputs, net.decoder_inputs) == (4, 3, 3)
    assert fc.estimator_.n_timesteps_ == 14 + 4
    p = fc.predict(X.iloc[-4:])
    assert list(p.index) == list(y.index[-4:])
    assert np.isfinite(p).all()
    iv = fc.predict_interval(X=X.iloc[-4:])
    assert (iv["lower"] <= p).all() and (p <= iv["upper"]).all()
    # the decoder reads the future covariates: other values, other forecasts
    other = fc.predict(X.iloc[-4:] * -1.0)
    assert not np.allclose(other, p)
    # bit for bit from random_state
    again = _fit(_fc(), y.iloc[:-4], X.iloc[:-4]).predict(X.iloc[-4:])
    pd.testing.assert_series_equal(p, again)


def test_forecaster_without_covariates_and_with_quantiles():
    y, _ = _weather(300)
    net = RNNForecaster.default_estimator(hidden_size=6, max_iter=3, loss="quantile",
                                          quantiles=[0.1, 0.5, 0.9])
    fc = _fit(_fc(estimator=net), y)
    assert fc.estimator_.network_.decoder_inputs == 1  # its place in the horizon only
    q = fc.predict_quantiles()
    assert q.shape == (4, 3)
    assert (np.diff(q.to_numpy(), axis=1) >= 0).all()


def test_model_file_round_trip(tmp_path):
    y, X = _weather()
    fc = _fit(_fc(), y.iloc[:-4], X.iloc[:-4])
    path = os.path.join(tmp_path, "s2s.tsrnn")
    save(fc, path)
    back = load(path)
    assert isinstance(back.estimator_.network_, EncoderDecoder)
    pd.testing.assert_series_equal(back.predict(X.iloc[-4:]), fc.predict(X.iloc[-4:]))


def test_model_file_with_the_wrong_kind_of_network_is_refused(tmp_path):
    from tsrnn._persist_schema import check_state

    y, X = _weather()
    fc = _fit(_fc(), y.iloc[:-4], X.iloc[:-4])
    direct = _fit(_fc(strategy="direct"), y.iloc[:-4], X.iloc[:-4])
    state = dict(vars(fc))
    state["estimator_"] = direct.estimator_
    with pytest.raises(ValueError, match="estimator_"):
        check_state(RNNForecaster, state, "model")


def test_backtest_and_global_model():
    y, X = _weather(300)
    result = backtest(_fc(), y, X, initial=0.8, step=20)
    assert np.isfinite(result.forecasts["forecast"]).all()
    panel = pd.DataFrame({"a": y, "b": y * 0.5 + 3})
    fc = _fit(_fc(global_model=True, series_encoding="embedding", embedding_dim=2), panel)
    assert fc.estimator_.network_.num_embeddings == 2
    assert fc.series_embedding_.shape == (2, 2)
    assert fc.predict().shape == (4, 2)
    onehot = _fit(_fc(global_model=True, series_encoding="onehot"), panel)
    # the one-hot channels are future-known: the decoder reads them too
    assert onehot.estimator_.network_.decoder_inputs == 3
    assert np.isfinite(onehot.predict()).all().all()


def test_bad_estimators_and_settings_are_refused():
    from sklearn.linear_model import Ridge

    y, _ = _weather(200)
    with pytest.raises(ValueError, match="seq2seq.*needs an RNNRegressor.*Ridge"):
        _fit(_fc(estimator=Ridge()), y)
    seq = RNNRegressor(hidden_size=4, max_iter=2, output="sequence")
    with pytest.raises(ValueError, match="`output`='sequence'.*encoder-decoder"):
        _fit(_fc(estimator=seq), y)
    with pytest.raises(ValueError, match="`strategy`"):
        _fit(_fc(strategy="encoder-decoder"), y)


def test_warm_start_cannot_switch_model_kinds():
    y, _ = _weather(200)
    net = RNNForecaster.default_estimator(hidden_size=4, max_iter=2, warm_start=True)
    fc = _fit(_fc(estimator=net, strategy="direct"), y)
    before = fc.estimator_.network_.params.copy()
    fc.set_params(strategy="seq2seq")
    with pytest.raises(ValueError, match="cannot continue as"):
        _fit(fc, y)
    np.testing.assert_array_equal(fc.estimator_.network_.params, before)
    assert fc.strategy == "seq2seq" and fc._fitted_params["strategy"] == "direct"


# ------------------------------------------------------------- decoder feedback
def _feedback_model(cell="gru"):
    return EncoderDecoder(cell, 5, H, L, TD * 2, decoder_steps=TD, encoder_inputs=4,
                          decoder_inputs=2, feedback=2, dtype=np.float64, random_state=7)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_feedback_predicts_step_by_step_from_its_own_outputs(cell):
    m = _feedback_model(cell)
    rng = np.random.default_rng(8)
    X = rng.normal(size=(4, TE + TD, 5))
    scale, shift = rng.normal(size=(TD - 1, 2)), rng.normal(size=(TD - 1, 2))
    m.set_feedback_units(scale, shift)
    _, state = m.encoder.forward(X[:, :TE, :4], return_state=True)
    outs = []
    for j in range(TD):
        fed = X[:, TE, :2] if j == 0 else scale[j - 1] * outs[-1][:, :2] + shift[j - 1]
        step = np.concatenate([fed, X[:, TE + j, 3:]], axis=1)[:, None]
        out, state = m.decoder.forward(step, return_sequences=True, h0=state,
                                       return_state=True)
        outs.append(out[:, 0])
    np.testing.assert_allclose(m.forward(X), np.stack(outs, axis=1), rtol=1e-13, atol=1e-14)
    # what the later steps' feedback channels hold in X is not read when predicting
    other = X.copy()
    other[:, TE + 1:, :2] = 99.0
    np.testing.assert_array_equal(m.forward(other), m.forward(X))


def test_feedback_trains_on_the_true_previous_values():
    """Teacher forcing: the gradient is that of the loss with the decoder reading the
    feedback channels as given."""
    m = _feedback_model("lstm")
    rng = np.random.default_rng(9)
    X, Y = rng.normal(size=(5, TE + TD, 5)), rng.normal(size=(5, TD, 2))
    _, grads = m.loss_grad(X, Y)
    _, state = m.encoder.forward(X[:, :TE, :4], return_state=True)
    Xd = np.concatenate([X[:, TE:, :2], X[:, TE:, 3:]], axis=2)
    P = m.decoder.forward(Xd, return_sequences=True, h0=state)
    assert m.loss_grad(X, Y)[0] == pytest.approx(np.mean((P - Y) ** 2), rel=1e-13)
    assert_params_gradient(m, lambda: m.loss_grad(X, Y)[0], grads, rtol=1e-6, atol=1e-8)

def test_feedback_layout_errors():
    with pytest.raises(ValueError, match="`feedback`=3 must be at most"):
        EncoderDecoder("gru", 5, H, 1, 6, decoder_steps=3, encoder_inputs=4,
                       decoder_inputs=2, feedback=3)
    m = _feedback_model()
    with pytest.raises(ValueError, match=r"`scale` must be finite of shape \(2, 2\)"):
        m.set_feedback_units(np.ones((3, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="`shift` must be finite"):
        m.set_feedback_units(np.ones((2, 2)), np.full((2, 2), np.nan))


def test_estimator_maps_outputs_to_the_feedback_channels_units():
    """An output equal to its standardised target becomes the standardised input value
    of that target's channel."""
    y, X = _weather()
    fc = _fit(_fc(decoder_feedback=True), y.iloc[:-4], X.iloc[:-4])
    est, net = fc.estimator_, fc.estimator_.network_
    assert net.feedback == 1 and net.decoder.input_size == 1 + 3
    rng = np.random.default_rng(0)
    value = rng.normal(size=(4, 1))  # a target value (normalised units), per step
    for j in range(net.decoder_steps - 1):
        out = (value[j] - est._y_mean[j]) / est._y_std[j]
        expected = (value[j] - est._x_mean[0]) / est._x_std[0]
        np.testing.assert_allclose(net.feedback_scale[j] * out + net.feedback_shift[j],
                                   expected, rtol=1e-12)


def test_forecaster_with_decoder_feedback(tmp_path):
    y, X = _weather()
    fc = _fit(_fc(decoder_feedback=True), y.iloc[:-4], X.iloc[:-4])
    plain = _fit(_fc(), y.iloc[:-4], X.iloc[:-4])
    p = fc.predict(X.iloc[-4:])
    assert np.isfinite(p).all() and not np.allclose(p, plain.predict(X.iloc[-4:]))
    assert np.isfinite(fc.predict_interval(X=X.iloc[-4:]).to_numpy()).all()
    path = os.path.join(tmp_path, "fb.tsrnn")
    save(fc, path)
    back = load(path)
    np.testing.assert_array_equal(back.estimator_.network_.feedback_scale,
                                  fc.estimator_.network_.feedback_scale)
    pd.testing.assert_series_equal(back.predict(X.iloc[-4:]), p)


def test_decoder_feedback_bad_settings_are_refused():
    y, _ = _weather(200)
    with pytest.raises(ValueError, match="`decoder_feedback`=True needs strategy='seq2seq'"):
        _fit(_fc(strategy="direct", decoder_feedback=True), y)
    with pytest.raises(ValueError, match="`window_norm`='season'"):
        _fit(_fc(decoder_feedback=True, window_norm="season", lags=14), y)
    q = RNNForecaster.default_estimator(hidden_size=4, max_iter=2, loss="quantile",
                                        quantiles=[0.1, 0.9])
    with pytest.raises(ValueError, match="`loss`='quantile'"):
        _fit(_fc(decoder_feedback=True, estimator=q), y)
    with pytest.raises(TypeError, match="`decoder_feedback`"):
        _fit(_fc(decoder_feedback="yes"), y)


def test_copies_keep_the_networks_views_into_the_parameters():
    import copy
    import pickle

    m = _feedback_model("lstm")
    for other in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert np.shares_memory(other.params, other.encoder.params)
        assert np.shares_memory(other.params, other.decoder.params)
        other.params[...] = 0.5
        X = np.ones((2, TE + TD, 5))
        assert not np.allclose(other.forward(X), m.forward(X))


def test_a_pickled_forecaster_keeps_training_the_weights_it_predicts_with():
    import pickle

    y, X = _weather()
    net = RNNForecaster.default_estimator(hidden_size=6, max_iter=3, warm_start=True,
                                          early_stopping=False)
    fc = pickle.loads(pickle.dumps(_fit(_fc(estimator=net), y.iloc[:-4], X.iloc[:-4])))
    before = fc.predict(X.iloc[-4:])
    _fit(fc, y.iloc[:-4], X.iloc[:-4])
    assert not np.allclose(fc.predict(X.iloc[-4:]), before)


def test_model_file_feedback_units_must_follow_the_scalers():
    from tsrnn._persist_schema import check_state

    y, X = _weather()
    fc = _fit(_fc(decoder_feedback=True), y.iloc[:-4], X.iloc[:-4])
    est = fc.estimator_
    est.network_.feedback_scale = est.network_.feedback_scale * 5
    with pytest.raises(ValueError, match="feedback_scale.*scalers"):
        check_state(RNNRegressor, {k: v for k, v in vars(est).items() if k != "_trainer"},
                    "model.estimator_")
