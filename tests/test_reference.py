"""Validate the NumPy reference (tests/_reference.py) against PyTorch and
against central differences.

Nothing here touches tsrnn: these tests establish that the reference is right,
so that the engine tests in test_kernels.py can trust it.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import _reference as ref  # noqa: E402
from conftest import (  # noqa: E402
    CELL_CONFIGS,
    CELL_IDS,
    assert_grads_close,
    fd_options,
    loss_setup,
    make_torch_net,
    random_masks,
    relu_alive,
    torch_forward_emulated,
    torch_loss,
    torch_loss_grad,
)

TOL = 1e-10
N, T, C, H = 4, 6, 3, 4


def _weights(cell, L, O, seed, act="tanh"):
    return relu_alive(ref.random_weights(cell, C, H, L, O, np.random.default_rng(seed)), act)


def _torch_module(cell, act, L, O, weights):
    net = make_torch_net(cell, act, C, H, L, O, dtype=torch.float64)
    net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()})
    return net


# ---------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_forward_matches_torch_module(cell, act, L, seq):
    weights = _weights(cell, L, 2, seed=1, act=act)
    X = np.random.default_rng(2).normal(size=(N, T, C))
    net = _torch_module(cell, act, L, 2, weights)
    with torch.no_grad():
        want = net(torch.from_numpy(X), return_sequences=seq).numpy()
    got = ref.ref_forward(cell, weights, X, num_layers=L, activation=act, return_sequences=seq)
    assert got.shape == ((N, T, 2) if seq else (N, 2))
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


def test_forward_2d_input_means_one_channel():
    w = ref.random_weights("gru", 1, H, 2, 1, np.random.default_rng(0))
    X = np.random.default_rng(1).normal(size=(N, T))
    a = ref.ref_forward("gru", w, X, num_layers=2)
    b = ref.ref_forward("gru", w, X[:, :, None], num_layers=2)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_torch_emulation_matches_module(cell, act, L):
    """The step-by-step emulation used for truncation/dropout agrees with the
    real multi-layer module when neither is used (forward and autograd)."""
    weights = _weights(cell, L, 2, seed=3, act=act)
    X = np.random.default_rng(4).normal(size=(N, T, C))
    Y = np.random.default_rng(5).normal(size=(N, T, 2))
    net = _torch_module(cell, act, L, 2, weights)
    P_mod = net(torch.from_numpy(X), return_sequences=True)
    torch.nn.functional.mse_loss(P_mod, torch.from_numpy(Y)).backward()
    grads_mod = {k: p.grad.numpy() for k, p in net.named_parameters()}
    _, grads_emu, P_emu = torch_loss_grad(cell, act, weights, X, Y, "squared_error",
                                          num_layers=L, return_sequences=True)
    np.testing.assert_allclose(P_emu, P_mod.detach().numpy(), rtol=TOL, atol=TOL)
    assert_grads_close(grads_emu, grads_mod, rtol=TOL, atol=TOL)


# ---------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("loss", ref.LOSSES)
def test_loss_matches_torch(loss, seq, weighted):
    rng = np.random.default_rng(7)
    O, Y, kw = loss_setup(loss, N, T, seq, rng)
    P = rng.normal(size=(N, T, O) if seq else (N, O))
    w = rng.uniform(0.2, 2.0, size=N) if weighted else None
    value, dP = ref.ref_loss(loss, P, Y, w, **kw)
    Pt = torch.tensor(P, requires_grad=True)
    Lt = torch_loss(loss, Pt, Y, w, **kw)
    Lt.backward()
    assert value == pytest.approx(Lt.item(), rel=TOL, abs=TOL)
    np.testing.assert_allclose(dP, Pt.grad.numpy(), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "huber", "cross_entropy"])
def test_unweighted_loss_equals_torch_builtin(loss, seq):
    """With unit weights the losses are torch's built-in mean-reduced losses."""
    rng = np.random.default_rng(8)
    O, Y, kw = loss_setup(loss, N, T, seq, rng)
    P = rng.normal(size=(N, T, O) if seq else (N, O))
    Pt = torch.tensor(P, requires_grad=True)
    if loss == "cross_entropy":
        crit = torch.nn.CrossEntropyLoss()
        Lt = crit(Pt.reshape(-1, O), torch.from_numpy(Y.reshape(-1)))
    else:
        crit = {
            "squared_error": torch.nn.MSELoss(),
            "absolute_error": torch.nn.L1Loss(),
            "huber": torch.nn.HuberLoss(delta=kw.get("huber_delta", 1.0)),
        }[loss]
        Lt = crit(Pt, torch.from_numpy(Y))
    Lt.backward()
    value, dP = ref.ref_loss(loss, P, Y, **kw)
    assert value == pytest.approx(Lt.item(), rel=TOL, abs=TOL)
    np.testing.assert_allclose(dP, Pt.grad.numpy(), rtol=TOL, atol=TOL)


def test_huber_hits_both_regions():
    """Guard for the loss fixtures: the huber data exercises both branches."""
    rng = np.random.default_rng(7)
    _, Y, kw = loss_setup("huber", N, T, True, rng)
    P = rng.normal(size=Y.shape)
    r = np.abs(P - Y)
    assert (r <= kw["huber_delta"]).any() and (r > kw["huber_delta"]).any()


def test_loss_gradients_at_ties():
    P = np.array([[0.0, 1.0, 2.0]])
    _, g = ref.ref_loss("absolute_error", P, P.copy())
    np.testing.assert_array_equal(g, 0.0)
    P = np.zeros((1, 2))
    _, g = ref.ref_loss("quantile", P, np.zeros((1, 1)), quantiles=[0.2, 0.7])
    np.testing.assert_array_equal(g, 0.0)
    # y > p: -q / (S*K*Q); y < p: (1-q) / (S*K*Q)
    _, g = ref.ref_loss("quantile", P, np.ones((1, 1)), quantiles=[0.2, 0.7])
    np.testing.assert_allclose(g, [[-0.2 / 2, -0.7 / 2]])
    _, g = ref.ref_loss("quantile", P, -np.ones((1, 1)), quantiles=[0.2, 0.7])
    np.testing.assert_allclose(g, [[0.8 / 2, 0.3 / 2]])


def test_quantile_column_layout():
    """Column k*Q+q of P is target k at level quantiles[q]."""
    q = [0.1, 0.9]
    Y = np.array([[1.0, -1.0]])  # K = 2
    P = np.array([[0.0, 0.0, 0.0, 0.0]])
    value, _ = ref.ref_loss("quantile", P, Y, quantiles=q)
    # target 0 (y=1 > p): q*r -> 0.1, 0.9 ; target 1 (y=-1 < p): (q-1)*r -> 0.9, 0.1
    assert value == pytest.approx((0.1 + 0.9 + 0.9 + 0.1) / 4)


# ---------------------------------------------------------------------------
# gradients vs PyTorch autograd
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_full_bptt_grad_matches_torch_module(cell, act, L, seq):
    """Reference gradients vs autograd through the real multi-layer module."""
    weights = _weights(cell, L, 2, seed=11, act=act)
    rng = np.random.default_rng(12)
    X = rng.normal(size=(N, T, C))
    Y = rng.normal(size=(N, T, 2) if seq else (N, 2))
    net = _torch_module(cell, act, L, 2, weights)
    Xt = torch.tensor(X, requires_grad=True)
    torch.nn.functional.mse_loss(net(Xt, return_sequences=seq), torch.from_numpy(Y)).backward()
    want = {k: p.grad.numpy() for k, p in net.named_parameters()}
    want["input"] = Xt.grad.numpy()
    value, got = ref.ref_loss_grad(cell, weights, X, Y, "squared_error", num_layers=L,
                                   activation=act, return_sequences=seq)
    assert list(got) == list(want)  # same keys, same (PyTorch) order
    assert_grads_close(got, want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("loss", ref.LOSSES)
@pytest.mark.parametrize("bptt", [None, 2, 4], ids=["full", "bptt2", "bptt4"])
@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_grad_matches_torch(cell, act, L, seq, bptt, loss):
    """Every gradient (weights, biases, head, input) incl. truncation and
    per-sample weights, vs autograd with detached states."""
    rng = np.random.default_rng(21)
    O, Y, kw = loss_setup(loss, N, T, seq, rng)
    weights = _weights(cell, L, O, seed=22, act=act)
    X = rng.normal(size=(N, T, C))
    w = rng.uniform(0.2, 2.0, size=N)
    value, got = ref.ref_loss_grad(cell, weights, X, Y, loss, num_layers=L, activation=act,
                                   sample_weight=w, return_sequences=seq, bptt_steps=bptt, **kw)
    tvalue, want, _ = torch_loss_grad(cell, act, weights, X, Y, loss, num_layers=L,
                                      sample_weight=w, return_sequences=seq, bptt_steps=bptt,
                                      **kw)
    assert value == pytest.approx(tvalue, rel=TOL, abs=TOL)
    assert_grads_close(got, want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("bptt", [None, 1, 3], ids=["full", "bptt1", "bptt3"])
@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("L", [2, 3], ids=["L2", "L3"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_dropout_masks_grad_matches_torch(cell, act, L, seq, bptt):
    rng = np.random.default_rng(31)
    O, Y, kw = loss_setup("squared_error", N, T, seq, rng)
    weights = _weights(cell, L, O, seed=32, act=act)
    X = rng.normal(size=(N, T, C))
    masks = random_masks(L, N, T, H, rng)
    assert (masks == 0).any() and (masks > 1).any()
    P = ref.ref_forward(cell, weights, X, num_layers=L, activation=act, return_sequences=seq,
                        dropout_masks=masks)
    P_nodrop = ref.ref_forward(cell, weights, X, num_layers=L, activation=act,
                               return_sequences=seq)
    assert not np.allclose(P, P_nodrop)  # the masks matter
    value, got = ref.ref_loss_grad(cell, weights, X, Y, num_layers=L, activation=act,
                                   return_sequences=seq, bptt_steps=bptt, dropout_masks=masks)
    tvalue, want, tP = torch_loss_grad(cell, act, weights, X, Y, "squared_error", num_layers=L,
                                       return_sequences=seq, bptt_steps=bptt,
                                       dropout_masks=masks)
    np.testing.assert_allclose(P, tP, rtol=TOL, atol=TOL)
    assert value == pytest.approx(tvalue, rel=TOL, abs=TOL)
    assert_grads_close(got, want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_truncation_edge_cases(cell, act):
    """bptt_steps >= T is full BPTT; truncation never changes the loss value;
    many-to-one with bptt_steps=k gives zero input gradient before T-k."""
    rng = np.random.default_rng(41)
    weights = _weights(cell, 2, 1, seed=42, act=act)
    X = rng.normal(size=(N, T, C))
    Y = rng.normal(size=(N, 1))
    v_full, g_full = ref.ref_loss_grad(cell, weights, X, Y, num_layers=2, activation=act)
    for k in (T, T + 5):
        v, g = ref.ref_loss_grad(cell, weights, X, Y, num_layers=2, activation=act, bptt_steps=k)
        assert v == v_full
        assert_grads_close(g, g_full, rtol=0, atol=0)
    for k in (1, 2, 4):
        v, g = ref.ref_loss_grad(cell, weights, X, Y, num_layers=2, activation=act, bptt_steps=k)
        assert v == v_full
        np.testing.assert_array_equal(g["input"][:, : T - k, :], 0.0)
        assert np.abs(g["input"][:, T - k :, :]).sum() > 0


# ---------------------------------------------------------------------------
# gradients vs central differences
# ---------------------------------------------------------------------------

FD_TOL = 1e-7


@pytest.mark.parametrize("loss", ["squared_error", "huber", "cross_entropy"])
@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_grad_matches_central_differences(cell, act, L, seq, loss):
    rng = np.random.default_rng(51)
    n, T_, C_, H_ = 3, 4, 2, 3
    O, Y, kw = loss_setup(loss, n, T_, seq, rng)
    weights = relu_alive(ref.random_weights(cell, C_, H_, L, O, rng), act)
    X = rng.normal(size=(n, T_, C_))
    w = rng.uniform(0.5, 1.5, size=n)
    masks = random_masks(L, n, T_, H_, rng) if L > 1 else None
    common = dict(num_layers=L, activation=act, sample_weight=w, return_sequences=seq,
                  dropout_masks=masks, **kw)
    _, g = ref.ref_loss_grad(cell, weights, X, Y, loss, **common)

    def loss_at(wts, X_=X):
        P = ref.ref_forward(cell, wts, X_, num_layers=L, activation=act, return_sequences=seq,
                            dropout_masks=masks)
        return ref.ref_loss(loss, P, Y, w, **kw)[0]

    errors = {}
    for key, val in weights.items():
        num = ref.numeric_grad(lambda v, key=key: loss_at({**weights, key: v}), val, **fd_options(act))
        errors[key] = ref.rel_error(num, g[key])
    num = ref.numeric_grad(lambda x: loss_at(weights, x), X, **fd_options(act))
    errors["input"] = ref.rel_error(num, g["input"])
    bad = {k: e for k, e in errors.items() if not e < FD_TOL}
    assert not bad, f"relative errors above {FD_TOL}: {bad}"


@pytest.mark.parametrize("bptt", [1, 2, 4])
@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_truncated_grad_matches_frozen_state_differences(cell, act, seq, bptt):
    """Truncated gradients = central differences of the loss with the
    boundary states frozen at their current values."""
    rng = np.random.default_rng(61)
    n, T_, C_, H_, L = 3, 6, 2, 3, 2
    O, Y, kw = loss_setup("squared_error", n, T_, seq, rng)
    weights = relu_alive(ref.random_weights(cell, C_, H_, L, O, rng), act)
    X = rng.normal(size=(n, T_, C_))
    _, g = ref.ref_loss_grad(cell, weights, X, Y, num_layers=L, activation=act,
                             return_sequences=seq, bptt_steps=bptt)
    f = ref.ref_truncated_objective(cell, weights, X, Y, num_layers=L, activation=act,
                                    return_sequences=seq, bptt_steps=bptt)
    for key, val in weights.items():
        num = ref.numeric_grad(lambda v, key=key: f({**weights, key: v}), val, **fd_options(act))
        assert ref.rel_error(num, g[key]) < FD_TOL, key


def test_numeric_grad_does_not_mutate_and_is_accurate():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    x0 = x.copy()
    g = ref.numeric_grad(lambda v: np.sum(np.sin(v) * v**2), x, eps=1e-3)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(g, np.cos(x) * x**2 + 2 * x * np.sin(x), rtol=1e-10)
    g2 = ref.numeric_grad(lambda v: np.sum(np.sin(v) * v**2), x, eps=1e-6, order=2)
    np.testing.assert_allclose(g2, g, rtol=1e-8)


def test_emulated_truncation_changes_gradients():
    """Guard: the torch emulation really detaches (otherwise the truncation
    comparison above would be vacuous)."""
    rng = np.random.default_rng(71)
    weights = _weights("lstm", 1, 1, seed=72)
    X = rng.normal(size=(N, T, C))
    Y = rng.normal(size=(N, 1))
    _, g_full, _ = torch_loss_grad("lstm", "tanh", weights, X, Y, "squared_error", num_layers=1)
    _, g_tr, _ = torch_loss_grad("lstm", "tanh", weights, X, Y, "squared_error", num_layers=1,
                                 bptt_steps=2)
    assert not np.allclose(g_full["rnn.weight_hh_l0"], g_tr["rnn.weight_hh_l0"])
    np.testing.assert_array_equal(g_tr["input"][:, : T - 2], 0.0)
    params = {k: torch.tensor(v) for k, v in weights.items()}
    P = torch_forward_emulated("lstm", "tanh", params, torch.from_numpy(X), num_layers=1,
                               bptt_steps=2)
    np.testing.assert_allclose(P.numpy(), ref.ref_forward("lstm", weights, X, num_layers=1),
                               rtol=TOL, atol=TOL)
