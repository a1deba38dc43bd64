"""Public contract of tsrnn.nn.Network: argument checking, no mutation of
inputs, copies out of state_dict, seeding, and results independent of n_jobs.

Bad input must raise ValueError naming the argument in backticks (never a
Numba typing error from deep inside a kernel).
"""

import re

import numpy as np
import pytest
from conftest import CELL_CONFIGS, CELL_IDS

N, T, C, H, L, O = 4, 5, 2, 3, 2, 2


def _net(cell="lstm", act="tanh", dtype=np.float64, seed=0, **kw):
    from tsrnn.nn import Network

    args = dict(cell=cell, input_size=C, hidden_size=H, num_layers=L, output_size=O,
                activation=act, dtype=dtype, random_state=seed)
    args.update(kw)
    return Network(**args)


def _data(seed=0, n=N, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, T, C)).astype(dtype), rng.normal(size=(n, O)).astype(dtype)


def _arg(name):
    """Regex matching the argument name in backticks."""
    return re.escape(f"`{name}`")


# ---------------------------------------------------------------------------
# constructor arguments
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["transformer", "LSTM ", "", None, 3])
def test_unknown_cell(cell):
    with pytest.raises(ValueError, match=_arg("cell")):
        _net(cell=cell)


# output_size=0 is a headless network (an encoder): tests/test_seq2seq.py
@pytest.mark.parametrize("name,value", [(n, v) for n in ("input_size", "hidden_size",
                                                         "num_layers", "output_size")
                                        for v in (0, -1) if (n, v) != ("output_size", 0)])
def test_non_positive_sizes(name, value):
    with pytest.raises(ValueError, match=_arg(name)):
        _net(**{name: value})


@pytest.mark.parametrize("cell,act", [("rnn", "sigmoid"), ("lstm", "relu"), ("gru", "relu")],
                         ids=["rnn-sigmoid", "lstm-relu", "gru-relu"])
def test_bad_activation(cell, act):
    with pytest.raises(ValueError, match=_arg("activation")):
        _net(cell=cell, act=act)


# ---------------------------------------------------------------------------
# X and Y
# ---------------------------------------------------------------------------

BAD_X = {
    "1d": np.zeros(N),
    "4d": np.zeros((N, T, C, 1)),
    "wrong_channels": np.zeros((N, T, C + 1)),
    "2d_but_C_is_2": np.zeros((N, T)),
    "nan": np.where(np.arange(N * T * C).reshape(N, T, C) == 7, np.nan, 0.0),
    "inf": np.where(np.arange(N * T * C).reshape(N, T, C) == 3, np.inf, 0.0),
    "neg_inf": np.where(np.arange(N * T * C).reshape(N, T, C) == 0, -np.inf, 0.0),
}


@pytest.mark.parametrize("X", list(BAD_X.values()), ids=list(BAD_X))
@pytest.mark.parametrize("method", ["forward", "loss_grad"])
def test_bad_X(method, X):
    net = _net()
    with pytest.raises(ValueError, match=_arg("X")):
        if method == "forward":
            net.forward(X)
        else:
            net.loss_grad(X, np.zeros((N, O)))


def _bad_Y_cases():
    nan_y = np.zeros((N, O))
    nan_y[1, 1] = np.nan
    inf_y = np.zeros((N, O))
    inf_y[0, 0] = np.inf
    return {
        # name: (Y, loss, return_sequences)
        "wrong_n": (np.zeros((N + 1, O)), "squared_error", False),
        "wrong_O": (np.zeros((N, O + 1)), "squared_error", False),
        "3d_for_many2one": (np.zeros((N, T, O)), "squared_error", False),
        "2d_for_many2many": (np.zeros((N, O)), "squared_error", True),
        "wrong_T": (np.zeros((N, T + 1, O)), "squared_error", True),
        "nan": (nan_y, "squared_error", False),
        "inf": (inf_y, "absolute_error", False),
        "quantile_wrong_K": (np.zeros((N, 2)), "quantile", False),  # O=2, 2 levels -> K=1
        "labels_wrong_shape": (np.zeros((N, O), dtype=int), "cross_entropy", False),
        "labels_out_of_range": (np.full(N, O), "cross_entropy", False),
        "labels_negative": (np.full(N, -1), "cross_entropy", False),
    }


@pytest.mark.parametrize("case", list(_bad_Y_cases()))
def test_bad_Y(case):
    Y, loss, seq = _bad_Y_cases()[case]
    net = _net()
    X, _ = _data()
    kw = {"quantiles": [0.2, 0.8]} if loss == "quantile" else {}
    with pytest.raises(ValueError, match=_arg("Y")):
        net.loss_grad(X, Y, loss, return_sequences=seq, **kw)


def _bad_option_cases():
    X, Y = _data()
    return {
        # name: (kwargs for loss_grad, argument named in the error)
        "unknown_loss": ({"loss": "hinge"}, "loss"),
        "quantile_without_levels": ({"loss": "quantile"}, "quantiles"),
        "quantile_level_1": ({"loss": "quantile", "quantiles": [1.0, 0.5]}, "quantiles"),
        "sample_weight_shape": ({"sample_weight": np.ones(N + 1)}, "sample_weight"),
        "sample_weight_nan": ({"sample_weight": np.array([1, np.nan, 1, 1])}, "sample_weight"),
        "bptt_steps_zero": ({"bptt_steps": 0}, "bptt_steps"),
        "dropout_masks_shape": ({"dropout_masks": np.ones((L - 1, N, T, H + 1))},
                                "dropout_masks"),
        "huber_delta_zero": ({"loss": "huber", "huber_delta": 0.0}, "huber_delta"),
    }


@pytest.mark.parametrize("case", list(_bad_option_cases()))
def test_bad_loss_grad_options(case):
    kw, name = _bad_option_cases()[case]
    X, Y = _data()
    with pytest.raises(ValueError, match=_arg(name)):
        _net().loss_grad(X, Y, **kw)


# ---------------------------------------------------------------------------
# state dict
# ---------------------------------------------------------------------------


def _bad_state_dicts():
    sd = _net().state_dict()
    missing = dict(sd)
    del missing["rnn.weight_hh_l1"]
    shape = dict(sd, **{"rnn.bias_ih_l0": np.zeros(4 * H + 1)})
    transposed = dict(sd, **{"head.weight": sd["head.weight"].T.copy()})
    extra = dict(sd, **{"rnn.weight_ih_l2": np.zeros((4 * H, H))})
    nan = dict(sd, **{"rnn.weight_ih_l0": np.full_like(sd["rnn.weight_ih_l0"], np.nan)})
    inf = dict(sd, **{"head.bias": np.array([0.0, np.inf])})
    return {
        # name: (state dict, key that must be named in the error)
        "missing_key": (missing, "rnn.weight_hh_l1"),
        "wrong_shape": (shape, "rnn.bias_ih_l0"),
        "transposed": (transposed, "head.weight"),
        "extra_key": (extra, "rnn.weight_ih_l2"),
        "nan": (nan, "rnn.weight_ih_l0"),
        "inf": (inf, "head.bias"),
    }


@pytest.mark.parametrize("case", list(_bad_state_dicts()))
def test_bad_state_dict(case):
    sd, key = _bad_state_dicts()[case]
    net = _net(seed=5)
    before = net.params.copy()
    with pytest.raises(ValueError, match=re.escape(key)):
        net.load_state_dict(sd)
    # a failed load changes nothing
    np.testing.assert_array_equal(net.params, before)


def test_state_dict_layout_and_copies():
    net = _net(cell="gru")
    sd = net.state_dict()
    G = 3
    expected = {
        "rnn.weight_ih_l0": (G * H, C), "rnn.weight_hh_l0": (G * H, H),
        "rnn.bias_ih_l0": (G * H,), "rnn.bias_hh_l0": (G * H,),
        "rnn.weight_ih_l1": (G * H, H), "rnn.weight_hh_l1": (G * H, H),
        "rnn.bias_ih_l1": (G * H,), "rnn.bias_hh_l1": (G * H,),
        "head.weight": (O, H), "head.bias": (O,),
    }
    assert list(sd) == list(expected)
    assert {k: v.shape for k, v in sd.items()} == expected
    assert net.params.ndim == 1 and net.params.size == sum(v.size for v in sd.values())
    np.testing.assert_array_equal(np.concatenate([v.ravel() for v in sd.values()]), net.params)
    # returned arrays are copies
    before = net.params.copy()
    for v in sd.values():
        v[...] = 123.0
    np.testing.assert_array_equal(net.params, before)
    assert not np.any(net.state_dict()["head.bias"] == 123.0)


def test_params_is_the_source_of_truth():
    net = _net(cell="lstm")
    X, _ = _data()
    P0 = net.forward(X)
    net.params[-O:] += 1.0  # head.bias is last
    np.testing.assert_allclose(net.forward(X), P0 + 1.0, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(net.state_dict()["head.bias"], net.params[-O:])


def test_load_state_dict_copies_values_in():
    net = _net(seed=1)
    sd = _net(seed=2).state_dict()
    sd_before = {k: v.copy() for k, v in sd.items()}
    net.load_state_dict(sd)
    for k in sd:
        np.testing.assert_array_equal(sd[k], sd_before[k])  # argument not mutated
    for v in sd.values():
        v[...] = 0.0  # later changes to the argument don't leak in
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, sd_before[k])


# ---------------------------------------------------------------------------
# no mutation of inputs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_inputs_not_mutated(cell, act, dtype):
    net = _net(cell=cell, act=act, dtype=dtype)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, T, C)).astype(dtype)
    Y = rng.normal(size=(N, T, O)).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=N).astype(dtype)
    masks = (rng.random((L - 1, N, T, H)) > 0.3).astype(dtype) / dtype(0.7)
    labels = rng.integers(0, O, size=N)
    copies = [a.copy() for a in (X, Y, w, masks, labels)]
    params = net.params.copy()
    net.forward(X)
    net.forward(X, return_sequences=True, n_jobs=2)
    net.loss_grad(X, Y, sample_weight=w, return_sequences=True, bptt_steps=2,
                  dropout_masks=masks, input_grad=True)
    net.loss_grad(X, Y, "huber", sample_weight=w, return_sequences=True, n_jobs=2,
                  dropout_masks=masks, input_grad=True)
    net.loss_grad(X, labels, "cross_entropy", sample_weight=w, input_grad=True)
    for a, b in zip((X, Y, w, masks, labels), copies):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(net.params, params)  # loss_grad does not train


def test_returned_gradients_do_not_alias_params():
    net = _net()
    X, Y = _data()
    before = net.params.copy()
    _, grads = net.loss_grad(X, Y, input_grad=True)
    for g in grads.values():
        g[...] = 7.0
    np.testing.assert_array_equal(net.params, before)
    np.testing.assert_array_equal(X, _data()[0])


# ---------------------------------------------------------------------------
# seeding
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_same_seed_same_params(cell, act):
    a = _net(cell=cell, act=act, seed=42).params
    b = _net(cell=cell, act=act, seed=42).params
    c = _net(cell=cell, act=act, seed=43).params
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_float32_and_float64_same_seed_agree_to_rounding(cell, act):
    p64 = _net(cell=cell, act=act, seed=9, dtype=np.float64).params
    p32 = _net(cell=cell, act=act, seed=9, dtype=np.float32).params
    assert p64.dtype == np.float64 and p32.dtype == np.float32
    # round-to-nearest: relative error at most 2**-24
    np.testing.assert_allclose(p32.astype(np.float64), p64, rtol=2.0**-24, atol=0)


# ---------------------------------------------------------------------------
# results do not depend on n_jobs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 64, 300])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_n_jobs_bitwise_identical(cell, act, dtype, n):
    net = _net(cell=cell, act=act, dtype=dtype, seed=11)
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, T, C)).astype(dtype)
    Y = rng.normal(size=(n, T, O)).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=n)
    masks = (rng.random((L - 1, n, T, H)) > 0.2) / 0.8

    for seq in (False, True):
        P1 = net.forward(X, return_sequences=seq, n_jobs=1)
        P2 = net.forward(X, return_sequences=seq, n_jobs=2)
        assert np.array_equal(P1, P2), f"forward seq={seq}"
        np.testing.assert_array_equal(net.forward(X, return_sequences=seq), P1)

    cases = {
        "many2one": dict(Y=Y[:, -1], sample_weight=w),
        "many2many_bptt_dropout": dict(Y=Y, return_sequences=True, bptt_steps=2,
                                       dropout_masks=masks, sample_weight=w),
    }
    for name, kw in cases.items():
        kw = dict(kw)
        Yc = kw.pop("Y")
        v1, g1 = net.loss_grad(X, Yc, n_jobs=1, input_grad=True, **kw)
        v2, g2 = net.loss_grad(X, Yc, n_jobs=2, input_grad=True, **kw)
        vN, gN = net.loss_grad(X, Yc, input_grad=True, **kw)
        assert v1 == v2 == vN, name
        for k in g1:
            assert np.array_equal(g1[k], g2[k]), f"{name}: {k} differs between n_jobs=1 and 2"
            assert np.array_equal(g1[k], gN[k]), f"{name}: {k} differs between n_jobs=1 and None"
