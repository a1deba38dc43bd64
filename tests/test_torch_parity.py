"""tsrnn.nn.Network vs PyTorch, through the state dict in both directions.

The Network's ``state_dict()`` is loaded (strictly) into a ``Net(nn.Module)``
with attributes ``rnn`` and ``head``, which checks that our keys and shapes are
exactly PyTorch's; forward outputs and every gradient (torch autograd with the
built-in mean-reduced losses) must then agree.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import (  # noqa: E402
    CELL_CONFIGS,
    CELL_IDS,
    HUBER_DELTA,
    assert_close_scaled,
    assert_grads_close,
    make_torch_net,
)

N, T, C, H = 5, 6, 3, 4
TOL64 = 1e-10
TOL32 = 1e-4
DTYPES = {np.float64: torch.float64, np.float32: torch.float32}

TORCH_LOSSES = {
    "squared_error": lambda: torch.nn.MSELoss(),
    "absolute_error": lambda: torch.nn.L1Loss(),
    "huber": lambda: torch.nn.HuberLoss(delta=HUBER_DELTA),
    "cross_entropy": lambda: torch.nn.CrossEntropyLoss(),
}


def _network(cell, act, L, O, dtype, seed=0):
    from tsrnn.nn import Network

    return Network(cell=cell, input_size=C, hidden_size=H, num_layers=L, output_size=O,
                   activation=act, dtype=dtype, random_state=seed)


def _torch_twin(net, cell, act, L, O, dtype):
    tnet = make_torch_net(cell, act, C, H, L, O, dtype=DTYPES[dtype])
    sd = net.state_dict()
    # strict=True (default): raises on any missing/unexpected key or shape mismatch
    tnet.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    assert list(sd) == [k for k, _ in tnet.named_parameters()]
    return tnet


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_state_dict_loads_into_torch_and_forward_agrees(cell, act, L, seq, dtype):
    net = _network(cell, act, L, 2, dtype)
    tnet = _torch_twin(net, cell, act, L, 2, dtype)
    X = np.random.default_rng(1).normal(size=(N, T, C)).astype(dtype)
    P = net.forward(X, return_sequences=seq)
    with torch.no_grad():
        P_t = tnet(torch.from_numpy(X), return_sequences=seq).numpy()
    assert P.shape == P_t.shape and P.dtype == P_t.dtype
    if dtype == np.float64:
        np.testing.assert_allclose(P, P_t, rtol=TOL64, atol=TOL64)
    else:
        assert_close_scaled(P, P_t, TOL32, "forward")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("loss", list(TORCH_LOSSES))
@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_gradients_agree_with_torch_autograd(cell, act, L, seq, loss, dtype):
    rng = np.random.default_rng(2)
    O = 3
    net = _network(cell, act, L, O, dtype, seed=3)
    tnet = _torch_twin(net, cell, act, L, O, dtype)
    X = rng.normal(size=(N, T, C)).astype(dtype)
    lead = (N, T) if seq else (N,)
    if loss == "cross_entropy":
        Y = rng.integers(0, O, size=lead)
    else:
        Y = rng.normal(size=lead + (O,)).astype(dtype)
    kw = {"huber_delta": HUBER_DELTA} if loss == "huber" else {}

    value, grads = net.loss_grad(X, Y, loss, return_sequences=seq, input_grad=True, **kw)

    Xt = torch.tensor(X, requires_grad=True)
    P = tnet(Xt, return_sequences=seq)
    crit = TORCH_LOSSES[loss]()
    if loss == "cross_entropy":
        Lt = crit(P.reshape(-1, O), torch.from_numpy(Y.reshape(-1)))
    else:
        Lt = crit(P, torch.from_numpy(Y))
    Lt.backward()
    want = {k: p.grad.numpy() for k, p in tnet.named_parameters()}
    want["input"] = Xt.grad.numpy()

    assert set(grads) == set(want)
    if dtype == np.float64:
        assert value == pytest.approx(Lt.item(), rel=TOL64, abs=TOL64)
        assert_grads_close(grads, want, rtol=TOL64, atol=TOL64)
    else:
        assert value == pytest.approx(Lt.item(), rel=TOL32)
        for key in want:
            assert grads[key].dtype == np.float32, key
            assert_close_scaled(grads[key], want[key], TOL32, key)


@pytest.mark.parametrize("as_numpy", [False, True], ids=["tensors", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_torch_state_dict_loads_into_network(cell, act, L, dtype, as_numpy):
    torch.manual_seed(7)
    tnet = make_torch_net(cell, act, C, H, L, 2, dtype=DTYPES[dtype])
    sd = tnet.state_dict()
    if as_numpy:
        sd = {k: v.numpy() for k, v in sd.items()}
    net = _network(cell, act, L, 2, dtype, seed=123)
    net.load_state_dict(sd)
    for k, v in tnet.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[k], v.numpy())
    X = np.random.default_rng(8).normal(size=(N, T, C)).astype(dtype)
    for seq in (False, True):
        P = net.forward(X, return_sequences=seq)
        with torch.no_grad():
            P_t = tnet(torch.from_numpy(X), return_sequences=seq).numpy()
        if dtype == np.float64:
            np.testing.assert_allclose(P, P_t, rtol=TOL64, atol=TOL64)
        else:
            assert_close_scaled(P, P_t, TOL32, "forward")
