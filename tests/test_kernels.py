"""The Numba engine (``tsrnn.nn.Network``) against the NumPy reference and
against central differences.

float64: forward, loss and every gradient (incl. the input gradient) agree
with tests/_reference.py to ~1e-10 over cell x layers x many-to-one/many x
truncation x loss.  float32: the same within ~1e-4 relative.  Finite
differences check Network.loss_grad directly (full BPTT) and, for truncated
BPTT, against the loss with the boundary states frozen (the function whose
exact gradient truncated BPTT is).
"""

import _reference as ref
import numpy as np
import pytest
from conftest import (
    CELL_CONFIGS,
    CELL_IDS,
    assert_close_scaled,
    assert_grads_close,
    fd_options,
    loss_setup,
    make_network,
    random_masks,
    relu_alive,
)

N, T, C, H = 5, 6, 3, 4
TOL64 = 1e-10
TOL32 = 1e-4
FD_TOL = 1e-6

SEQ_IDS = ["many2one", "many2many"]
BPTT_IDS = ["full", "bptt3"]


def _case(cell, act, L, seq, loss, seed, *, n=N, T_=T, C_=C, H_=H, weighted=True):
    rng = np.random.default_rng(seed)
    O, Y, kw = loss_setup(loss, n, T_, seq, rng)
    weights = relu_alive(ref.random_weights(cell, C_, H_, L, O, rng), act)
    X = rng.normal(size=(n, T_, C_))
    w = rng.uniform(0.2, 2.0, size=n) if weighted else None
    return O, X, Y, w, weights, kw


# ---------------------------------------------------------------------------
# float64 vs reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ref.LOSSES)
@pytest.mark.parametrize("bptt", [None, 3], ids=BPTT_IDS)
@pytest.mark.parametrize("seq", [False, True], ids=SEQ_IDS)
@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_float64_matches_reference(cell, act, L, seq, bptt, loss):
    O, X, Y, w, weights, kw = _case(cell, act, L, seq, loss, seed=100)
    net = make_network(cell, act, weights, input_size=C, hidden_size=H, num_layers=L,
                       output_size=O, dtype=np.float64)
    P = net.forward(X, return_sequences=seq)
    P_ref = ref.ref_forward(cell, weights, X, num_layers=L, activation=act, return_sequences=seq)
    np.testing.assert_allclose(P, P_ref, rtol=TOL64, atol=TOL64)

    value, grads = net.loss_grad(X, Y, loss, sample_weight=w, return_sequences=seq,
                                 bptt_steps=bptt, input_grad=True, **kw)
    v_ref, g_ref = ref.ref_loss_grad(cell, weights, X, Y, loss, num_layers=L, activation=act,
                                     sample_weight=w, return_sequences=seq, bptt_steps=bptt,
                                     **kw)
    assert value == pytest.approx(v_ref, rel=TOL64, abs=TOL64)
    assert set(grads) == set(g_ref)
    assert_grads_close(grads, g_ref, rtol=TOL64, atol=TOL64,
                       err_msg=f"{cell}/{act} L={L} seq={seq} bptt={bptt} loss={loss}")


@pytest.mark.parametrize("loss", ["squared_error", "quantile", "cross_entropy"])
@pytest.mark.parametrize("seq", [False, True], ids=SEQ_IDS)
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_float64_unweighted_matches_reference(cell, act, seq, loss):
    """sample_weight=None is unit weights."""
    O, X, Y, _, weights, kw = _case(cell, act, 2, seq, loss, seed=101, weighted=False)
    net = make_network(cell, act, weights, input_size=C, hidden_size=H, num_layers=2,
                       output_size=O, dtype=np.float64)
    value, grads = net.loss_grad(X, Y, loss, return_sequences=seq, input_grad=True, **kw)
    v_ref, g_ref = ref.ref_loss_grad(cell, weights, X, Y, loss, num_layers=2, activation=act,
                                     return_sequences=seq, **kw)
    v1, g1 = net.loss_grad(X, Y, loss, sample_weight=np.ones(N), return_sequences=seq,
                           input_grad=True, **kw)
    assert value == pytest.approx(v_ref, rel=TOL64, abs=TOL64)
    assert_grads_close(grads, g_ref, rtol=TOL64, atol=TOL64)
    assert value == v1
    assert_grads_close(grads, g1, rtol=0, atol=0)


@pytest.mark.parametrize("bptt", [None, 1, 4], ids=["full", "bptt1", "bptt4"])
@pytest.mark.parametrize("seq", [False, True], ids=SEQ_IDS)
@pytest.mark.parametrize("L", [2, 3], ids=["L2", "L3"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_dropout_masks_match_reference(cell, act, L, seq, bptt):
    O, X, Y, w, weights, kw = _case(cell, act, L, seq, "squared_error", seed=102)
    masks = random_masks(L, N, T, H, np.random.default_rng(103))
    net = make_network(cell, act, weights, input_size=C, hidden_size=H, num_layers=L,
                       output_size=O, dtype=np.float64)
    value, grads = net.loss_grad(X, Y, sample_weight=w, return_sequences=seq, bptt_steps=bptt,
                                 dropout_masks=masks, input_grad=True)
    v_ref, g_ref = ref.ref_loss_grad(cell, weights, X, Y, num_layers=L, activation=act,
                                     sample_weight=w, return_sequences=seq, bptt_steps=bptt,
                                     dropout_masks=masks)
    assert value == pytest.approx(v_ref, rel=TOL64, abs=TOL64)
    assert_grads_close(grads, g_ref, rtol=TOL64, atol=TOL64)


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_two_dimensional_X_is_one_channel(cell, act):
    O, X, Y, w, weights, kw = _case(cell, act, 2, False, "squared_error", seed=104, C_=1)
    net = make_network(cell, act, weights, input_size=1, hidden_size=H, num_layers=2,
                       output_size=O, dtype=np.float64)
    X2 = X[:, :, 0]
    np.testing.assert_array_equal(net.forward(X2), net.forward(X))
    v2, g2 = net.loss_grad(X2, Y, sample_weight=w, input_grad=True)
    v3, g3 = net.loss_grad(X, Y, sample_weight=w, input_grad=True)
    assert v2 == v3
    assert g2["input"].shape == X2.shape
    np.testing.assert_array_equal(g2["input"], g3["input"][:, :, 0])
    _, g_ref = ref.ref_loss_grad(cell, weights, X2, Y, num_layers=2, activation=act,
                                 sample_weight=w)
    assert_grads_close(g2, g_ref, rtol=TOL64, atol=TOL64)


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_truncation_never_changes_loss_and_long_window_is_full(cell, act):
    O, X, Y, w, weights, kw = _case(cell, act, 2, False, "squared_error", seed=105)
    net = make_network(cell, act, weights, input_size=C, hidden_size=H, num_layers=2,
                       output_size=O, dtype=np.float64)
    v_full, g_full = net.loss_grad(X, Y, sample_weight=w, input_grad=True)
    for k in (T, T + 3):
        v, g = net.loss_grad(X, Y, sample_weight=w, bptt_steps=k, input_grad=True)
        assert v == v_full
        assert_grads_close(g, g_full, rtol=0, atol=0)
    for k in (1, 2, 5):
        v, g = net.loss_grad(X, Y, sample_weight=w, bptt_steps=k, input_grad=True)
        assert v == v_full
        # many-to-one: no gradient reaches inputs older than the last k steps
        np.testing.assert_array_equal(g["input"][:, : T - k], 0.0)


# ---------------------------------------------------------------------------
# float32 vs reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ref.LOSSES)
@pytest.mark.parametrize("seq", [False, True], ids=SEQ_IDS)
@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_float32_matches_reference(cell, act, L, seq, loss):
    O, X, Y, w, weights, kw = _case(cell, act, L, seq, loss, seed=200)
    # evaluate the reference at exactly the float32-rounded inputs
    weights = {k: v.astype(np.float32).astype(np.float64) for k, v in weights.items()}
    X = X.astype(np.float32).astype(np.float64)
    if loss != "cross_entropy":
        Y = Y.astype(np.float32).astype(np.float64)
    net = make_network(cell, act, weights, input_size=C, hidden_size=H, num_layers=L,
                       output_size=O, dtype=np.float32)
    X32 = X.astype(np.float32)
    P = net.forward(X32, return_sequences=seq)
    assert P.dtype == np.float32
    P_ref = ref.ref_forward(cell, weights, X, num_layers=L, activation=act, return_sequences=seq)
    assert_close_scaled(P, P_ref, TOL32, "forward")
    bptt = 3 if seq else None
    value, grads = net.loss_grad(X32, Y, loss, sample_weight=w, return_sequences=seq,
                                 bptt_steps=bptt, input_grad=True, **kw)
    v_ref, g_ref = ref.ref_loss_grad(cell, weights, X, Y, loss, num_layers=L, activation=act,
                                     sample_weight=w, return_sequences=seq, bptt_steps=bptt,
                                     **kw)
    assert value == pytest.approx(v_ref, rel=TOL32)
    for key, g in g_ref.items():
        assert grads[key].dtype == np.float32, key
        assert_close_scaled(grads[key], g, TOL32, key)


# ---------------------------------------------------------------------------
# central differences on Network.loss_grad
# ---------------------------------------------------------------------------

FD_N, FD_T, FD_C, FD_H = 3, 5, 2, 3


def _fd_case(cell, act, L, seq, seed):
    O, X, Y, w, weights, kw = _case(cell, act, L, seq, "squared_error", seed=seed, n=FD_N,
                                    T_=FD_T, C_=FD_C, H_=FD_H)
    net = make_network(cell, act, weights, input_size=FD_C, hidden_size=FD_H, num_layers=L,
                       output_size=O, dtype=np.float64)
    return net, X, Y, w, weights


def _network_fd(net, weights, X, Y, w, seq, act):
    """Central differences of Network's own loss for every key and the input."""
    def loss_at_weights(key):
        def f(v):
            net.load_state_dict({**weights, key: v})
            return net.loss_grad(X, Y, sample_weight=w, return_sequences=seq)[0]
        return f

    num = {key: ref.numeric_grad(loss_at_weights(key), val, **fd_options(act))
           for key, val in weights.items()}
    net.load_state_dict(weights)
    num["input"] = ref.numeric_grad(
        lambda x: net.loss_grad(x, Y, sample_weight=w, return_sequences=seq)[0], X,
        **fd_options(act))
    return num


def _assert_fd(num, grads):
    errors = {k: ref.rel_error(num[k], grads[k]) for k in num}
    bad = {k: f"{e:.3e}" for k, e in errors.items() if not e < FD_TOL}
    assert not bad, f"central-difference relative error above {FD_TOL}: {bad}"


@pytest.mark.parametrize("bptt", [None, 3], ids=BPTT_IDS)
@pytest.mark.parametrize("seq", [False, True], ids=SEQ_IDS)
@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_loss_grad_central_differences(cell, act, L, seq, bptt):
    net, X, Y, w, weights = _fd_case(cell, act, L, seq, seed=300)
    value, grads = net.loss_grad(X, Y, sample_weight=w, return_sequences=seq, bptt_steps=bptt,
                                 input_grad=True)
    if bptt is None:
        num = _network_fd(net, weights, X, Y, w, seq, act)
    else:
        # truncated BPTT is the exact gradient of the loss with the recurrent
        # states entering detached steps held fixed
        f = ref.ref_truncated_objective(cell, weights, X, Y, num_layers=L, activation=act,
                                        sample_weight=w, return_sequences=seq, bptt_steps=bptt)
        assert f(weights) == pytest.approx(value, rel=1e-12)
        num = {key: ref.numeric_grad(lambda v, key=key: f({**weights, key: v}), val,
                                     **fd_options(act))
               for key, val in weights.items()}
    _assert_fd(num, grads)


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_clipped_gradient_is_rescaled_central_difference_gradient(cell, act):
    from tsrnn._engine.optim import clip_grad_norm

    net, X, Y, w, weights = _fd_case(cell, act, 2, False, seed=301)
    # larger targets give a gradient norm well above 1, so PyTorch's 1e-6 in
    # the clipping denominator (max_norm / (norm + 1e-6)) stays below tolerance
    Y = 10.0 * Y
    _, grads = net.loss_grad(X, Y, sample_weight=w)
    num = _network_fd(net, weights, X, Y, w, False, act)
    keys = list(weights)
    g_net = np.concatenate([grads[k].ravel() for k in keys])
    g_num = np.concatenate([num[k].ravel() for k in keys])
    norm = np.linalg.norm(g_num)
    assert norm > 1.0

    max_norm = 0.25 * norm
    g_in = g_net.copy()
    clipped, total = clip_grad_norm(g_net, max_norm)
    np.testing.assert_array_equal(g_net, g_in)  # not modified
    assert total == pytest.approx(norm, rel=FD_TOL)
    expected = g_num * (max_norm / norm)
    assert ref.rel_error(clipped, expected) < FD_TOL + 1e-6 / norm
    assert np.linalg.norm(clipped) == pytest.approx(max_norm, rel=FD_TOL + 1e-6 / norm)
    # same direction
    cos = clipped @ g_num / (np.linalg.norm(clipped) * norm)
    assert cos == pytest.approx(1.0, abs=1e-10)

    # below the threshold nothing changes
    unclipped, total2 = clip_grad_norm(g_net, 2.0 * norm)
    np.testing.assert_array_equal(unclipped, g_net)
    assert total2 == total
    assert ref.rel_error(unclipped, g_num) < FD_TOL
