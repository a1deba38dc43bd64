"""Static inputs to the initial state: ``Network(static_size=)`` and
``RNNForecaster(static_covariates=)``.

The layer is checked against its definition (``h_0 = tanh(W s + b)`` fed as
``h0``), by central differences through the recurrence, and against PyTorch; the
forecaster reads the static columns per series, learns from them (two kinds of
series told apart only by a static column), saves them, and refuses bad ones.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from _reference import assert_params_gradient

from tsrnn import RNNForecaster, load, save
from tsrnn._engine.network import Network
from tsrnn._engine.seq2seq import EncoderDecoder

CELLS = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "relu")]
IDS = ["lstm", "gru", "rnn-relu"]
L, H, S = 2, 3, 3


def _net(cell, act, **kw):
    return Network(cell, input_size=2, hidden_size=H, num_layers=L, output_size=2,
                   activation=act, static_size=S, dtype=np.float64, random_state=0, **kw)


def _data(seed=0, n=5, T=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, T, 2)), rng.normal(size=(n, 2)), rng.normal(size=(n, S))


def _definition(net, s):
    sd = net.state_dict()
    a = np.tanh(s @ sd["init.weight"].T + sd["init.bias"])
    n = len(s)
    h0 = a[:, :L * H].reshape(n, L, H).transpose(1, 0, 2)
    if net.cell == "lstm":
        return h0, a[:, L * H:].reshape(n, L, H).transpose(1, 0, 2)
    return h0


@pytest.mark.parametrize("cell,act", CELLS, ids=IDS)
def test_static_inputs_are_the_initial_state_through_a_tanh_layer(cell, act):
    net = _net(cell, act)
    assert net.state_dict()["init.weight"].shape == ((2 if cell == "lstm" else 1) * L * H, S)
    X, _, s = _data()
    plain = Network(cell, input_size=2, hidden_size=H, num_layers=L, output_size=2,
                    activation=act, dtype=np.float64)
    sd = {k: v for k, v in net.state_dict().items() if not k.startswith("init.")}
    plain.load_state_dict(sd)
    np.testing.assert_allclose(net.forward(X, static=s),
                               plain.forward(X, h0=_definition(net, s)), rtol=1e-13)


@pytest.mark.parametrize("cell,act", CELLS, ids=IDS)
def test_gradient_reaches_the_layer(cell, act):
    net = _net(cell, act)
    X, Y, s = _data(1)
    _, grads = net.loss_grad(X, Y, static=s)
    assert np.abs(grads["init.weight"]).max() > 0
    assert_params_gradient(net, lambda: net.loss_grad(X, Y, static=s)[0], grads)


def test_variable_lengths_and_encoder_decoder_take_static_inputs():
    net = _net("gru", "tanh")
    X, Y, s = _data(2)
    lengths = [4, 2, 3, 1, 4]
    _, grads = net.loss_grad(X, Y, static=s, lengths=lengths)
    assert_params_gradient(net, lambda: net.loss_grad(X, Y, static=s, lengths=lengths)[0],
                           grads)
    # an encoder-decoder's encoder reads the static inputs as its last channels
    m = EncoderDecoder("lstm", 6, H, L, 6, decoder_steps=3, encoder_inputs=5,
                       decoder_inputs=3, dtype=np.float64, random_state=0, static_size=2)
    assert m.encoder.static_size == 2 and m.encoder.input_size == 3
    rng = np.random.default_rng(3)
    Xp, Yp = rng.normal(size=(4, 7, 6)), rng.normal(size=(4, 3, 2))
    Xp[:, :, 3:5] = rng.normal(size=(4, 1, 2))  # constant over the steps
    assert_params_gradient(m, lambda: m.loss_grad(Xp, Yp)[0], m.loss_grad(Xp, Yp)[1])


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    from conftest import make_torch_net

    net = _net("lstm", "tanh")
    X, Y, s = _data(4)
    tnet = make_torch_net("lstm", "tanh", 2, H, L, 2, dtype=torch.float64)
    sd = net.state_dict()
    tnet.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()
                          if not k.startswith("init.")})
    init = torch.nn.Linear(S, 2 * L * H).double()
    with torch.no_grad():
        init.weight.copy_(torch.from_numpy(sd["init.weight"]))
        init.bias.copy_(torch.from_numpy(sd["init.bias"]))
    a = torch.tanh(init(torch.from_numpy(s)))
    h0 = a[:, :L * H].reshape(-1, L, H).transpose(0, 1).contiguous()
    c0 = a[:, L * H:].reshape(-1, L, H).transpose(0, 1).contiguous()
    out, _ = tnet.rnn(torch.from_numpy(X), (h0, c0))
    loss = torch.nn.functional.mse_loss(tnet.head(out[:, -1]), torch.from_numpy(Y))
    loss.backward()
    value, grads = net.loss_grad(X, Y, static=s)
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(grads["init.weight"], init.weight.grad.numpy(), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(grads["init.bias"], init.bias.grad.numpy(), rtol=1e-9,
                               atol=1e-12)


def test_bad_static_inputs_are_refused():
    net = _net("gru", "tanh")
    X, Y, s = _data()
    with pytest.raises(ValueError, match="`static` must be given"):
        net.forward(X)
    with pytest.raises(ValueError, match=r"`static` must have shape \(5, 3\)"):
        net.forward(X, static=s[:, :2])
    with pytest.raises(ValueError, match="`h0` or `static`, not both"):
        net.forward(X, static=s, h0=np.zeros((L, 5, H)))
    with pytest.raises(ValueError, match="`static`"):
        net.forward(X, static=np.full((5, S), np.nan))
    with pytest.raises(ValueError, match="`static` needs a network with `static_size`"):
        Network("gru", input_size=2).forward(X, static=s)
    with pytest.raises(ValueError, match="`static_size`"):
        Network("gru", static_size=-1)


# ---------------------------------------------------------------- the forecaster
def _panel(n_series=6, n=160, seed=0):
    """Series whose season's amplitude depends only on their site."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2021-01-01", periods=n, freq="D")
    parts = []
    for k in range(n_series):
        site = "north" if k % 2 else "south"
        amp = 4.0 if site == "north" else 0.5
        y = 10 + amp * np.sin(2 * np.pi * np.arange(n) / 7 + k) + rng.normal(0, 0.2, n)
        parts.append(pd.DataFrame({"sid": f"s{k}", "y": y, "site": site,
                                   "depth": float(k % 3)}, index=idx))
    long = pd.concat(parts)
    return long[["sid", "y"]], long[["sid", "site", "depth"]]


def _fc(**kw):
    net = RNNForecaster.default_estimator(hidden_size=6, max_iter=3)
    return RNNForecaster(**{"series_id": "sid", "lags": 14, "horizon": 3,
                            "static_covariates": ["site", "depth"], "estimator": net,
                            "random_state": 0, **kw})


def _fit(fc, y, X=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fc.fit(y, X)


@pytest.mark.parametrize("strategy", ["direct", "recursive", "seq2seq"])
def test_forecaster_maps_static_covariates_to_the_initial_state(strategy, tmp_path):
    y, X = _panel()
    fc = _fit(_fc(strategy=strategy), y, X)
    assert list(fc.static_.columns) == ["site=north", "site=south", "depth"]
    assert list(fc.static_.index) == [f"s{k}" for k in range(6)]
    net = fc.estimator_.network_
    inner = net.encoder if isinstance(net, EncoderDecoder) else net
    assert inner.static_size == 3
    p = fc.predict()
    assert np.isfinite(p.to_numpy()).all()
    path = os.path.join(tmp_path, "static.tsrnn")
    save(fc, path)
    pd.testing.assert_frame_equal(load(path).predict(), p)


def test_static_covariates_are_learned_from():
    """Series of two sites that drift in opposite directions, forecast from windows of
    one observation (which, normalised to the last value, show nothing): only the
    static column tells the network which way a series goes."""
    rng = np.random.default_rng(5)
    idx = pd.date_range("2021-01-01", periods=120, freq="D")
    parts = []
    for k in range(6):
        site = "up" if k % 2 else "down"
        y = 50 + (1 if site == "up" else -1) * np.arange(120) + rng.normal(0, 0.3, 120)
        parts.append(pd.DataFrame({"sid": f"s{k}", "y": y, "site": site}, index=idx))
    long = pd.concat(parts)
    train = long.groupby("sid").head(110)
    truth = long.groupby("sid").nth(list(range(110, 113)))["y"].to_numpy()
    net = RNNForecaster.default_estimator(hidden_size=8, max_iter=60, early_stopping=False)

    def error(static):
        fc = _fit(_fc(estimator=net, static_covariates=static, lags=1,
                      window_norm="last"), train[["sid", "y"]],
                  train[["sid", "site"]] if static else None)
        return np.abs(fc.predict()["y"].to_numpy() - truth).mean()

    with_static, without = error(["site"]), error(None)
    assert with_static < 0.5 * without, (with_static, without)


def test_bad_static_covariates_are_refused():
    y, X = _panel()
    bad = X.copy()
    bad.loc[bad.index[3], "depth"] = 99.0
    with pytest.raises(ValueError, match="series 's0': static covariate 'depth' must be "
                                         "constant"):
        _fit(_fc(), y, bad)
    with pytest.raises(ValueError, match=r"`static_covariates` names columns \['altitude'\]"):
        _fit(_fc(static_covariates=["site", "altitude"]), y, X)
    with pytest.raises(ValueError, match="`static_covariates`=.* need a global model"):
        _fit(RNNForecaster(static_covariates="site"), y["y"].iloc[:100])
    with pytest.raises(ValueError, match="both `past_covariates` and `static_covariates`"):
        _fit(_fc(past_covariates=["depth"]), y, X)
    missing = X.copy()
    missing.loc[missing["sid"] == "s2", "site"] = np.nan
    with pytest.raises(ValueError, match="series 's2': static covariate 'site' has no "
                                         "observed value"):
        _fit(_fc(), y, missing)
    with pytest.raises(ValueError, match="has no covariates `X`"):
        _fit(_fc(), y, None)


def test_backtest_of_a_global_model_with_static_covariates():
    from tsrnn.model_selection import backtest

    y, X = _panel()
    res = backtest(_fc(), y, X, initial=0.8, step=10)
    assert np.isfinite(res.forecasts["forecast"]).all()
    only_static = backtest(_fc(static_covariates=["site", "depth"]), y, X, initial=0.8,
                           step=10)
    assert len(only_static.forecasts)


def test_predict_checks_static_columns_and_refuses_unseen_series():
    y, X = _panel()
    fc = _fit(_fc(), y, X)
    p = fc.predict()
    # static columns given again must hold the fitted values; they change nothing
    pd.testing.assert_frame_equal(fc.predict(X=X), p)
    flipped = X.copy()
    flipped.loc[flipped["sid"] == "s1", "site"] = "south"
    with pytest.raises(ValueError, match="series 's1': static covariate 'site' is 'south'"):
        fc.predict(X=flipped)
    new = y[y["sid"] == "s0"].assign(sid="new")
    with pytest.raises(ValueError, match="series 'new' was not seen at fit; a model with "
                                         "`static_covariates`"):
        fc.predict(y=pd.concat([y, new]))


def test_categorical_static_covariates_are_one_hot_and_shared_ones_warn():
    y, X = _panel()
    X = X.assign(depth=X["depth"].astype(int).astype("category"))
    fc = _fit(_fc(), y, X)
    assert [c for c in fc.static_.columns if c.startswith("depth")] == \
        ["depth=0", "depth=1", "depth=2"]
    same = X.assign(depth=1.0)
    with pytest.warns(UserWarning, match="static covariate 'depth' takes one value"):
        _fc().fit(y, same)


def test_warm_start_refuses_other_static_channels():
    y, X = _panel()
    net = RNNForecaster.default_estimator(hidden_size=4, max_iter=2, warm_start=True)
    fc = _fit(_fc(estimator=net), y, X)
    other = X.copy()
    other.loc[other["sid"] == "s1", "site"] = "east"
    with pytest.raises(ValueError, match="trained on the static channels"):
        _fit(fc, y, other)
