"""Variable-length batches and carried state in ``tsrnn.nn.Network``.

Every result is checked against the NumPy reference run on each sequence alone
(``_reference.py``, which knows nothing of padding), by central differences of
the network's own loss, and against PyTorch's packed sequences where torch is
installed.  Padding must never leak: whatever the padded steps hold, every
output and gradient is bitwise the same.
"""

import re

import _reference as ref
import numpy as np
import pytest
from conftest import CELL_CONFIGS, CELL_IDS, fd_options, loss_setup, relu_alive

from tsrnn.nn import Network

C, H = 2, 4
LENGTHS = (5, 1, 7, 3, 7, 2)


def _net(cell, act, L=2, O=2, dtype=np.float64, seed=0):
    net = Network(cell, input_size=C, hidden_size=H, num_layers=L, output_size=O,
                  activation=act, dtype=dtype, random_state=seed)
    net.load_state_dict(relu_alive(net.state_dict(), act))
    return net


def _seqs(rng, lengths=LENGTHS):
    return [rng.normal(size=(k, C)) for k in lengths]


def _h0(net, n, rng):
    h = rng.normal(scale=0.5, size=(net.num_layers, n, net.hidden_size))
    if net.cell == "lstm":
        return h, rng.normal(scale=0.5, size=h.shape)
    return h


def _split_h0(h0, i):
    """(h0, c0) of sequence i alone, for the reference."""
    if h0 is None:
        return None, None
    if isinstance(h0, tuple):
        return h0[0][:, i:i + 1], h0[1][:, i:i + 1]
    return h0[:, i:i + 1], None


def _probe(net, act, key, value, h0):
    """A copy of ``net`` with parameter ``key`` (or the initial state's ``"h0"``/``"c0"``)
    set to ``value``, and the initial state to run it from: central differences' probe."""
    sd = net.state_dict()
    probe = Network(net.cell, input_size=C, hidden_size=H, num_layers=net.num_layers,
                    output_size=net.output_size, activation=act, dtype=np.float64)
    probe.load_state_dict({**sd, key: value} if key in sd else sd)
    state = h0
    if key == "h0":
        state = (value, h0[1]) if net.cell == "lstm" else value
    elif key == "c0":
        state = (h0[0], value)
    return probe, state


def _ragged_ref(net, act, seqs, Ys, loss, seq, kw, sw=None, bptt=None, h0=None):
    """The reference loss and gradients of a ragged batch: each sequence alone, combined
    as the weighted mean over rows (a sample, or one real step of a sample)."""
    w = np.ones(len(seqs)) if sw is None else np.asarray(sw, float)
    rows = np.array([len(s) if seq else 1 for s in seqs]) * w
    total, grads = 0.0, {}
    inputs, dh0, dc0 = [], [], []
    for i, (x, y) in enumerate(zip(seqs, Ys)):
        h, c = _split_h0(h0, i)
        v, g = ref.ref_loss_grad(net.cell, net.state_dict(), x[None], y[None], loss,
                                 num_layers=net.num_layers, activation=act,
                                 return_sequences=seq, bptt_steps=bptt, h0=h, c0=c, **kw)
        f = rows[i] / rows.sum()
        total += f * v
        for k, val in g.items():
            if k == "input":
                inputs.append(f * val[0])
            elif k == "h0":
                dh0.append(f * val)
            elif k == "c0":
                dc0.append(f * val)
            else:
                grads[k] = grads.get(k, 0) + f * val
    grads["input"] = inputs
    if dh0:
        grads["h0"] = np.concatenate(dh0, axis=1)
    if dc0:
        grads["c0"] = np.concatenate(dc0, axis=1)
    return total, grads


def _targets(rng, seqs, loss, seq):
    O, Y, kw = loss_setup(loss, len(seqs), max(len(s) for s in seqs), seq, rng)
    if seq:
        Ys = [Y[i, :len(s)] for i, s in enumerate(seqs)]
    else:
        Ys = list(Y)
    return O, Ys, kw


def _assert_grads(got, want, tol):
    for k, v in want.items():
        if k == "input":
            assert len(got[k]) == len(v)
            for a, b in zip(got[k], v):
                assert ref.rel_error(a, b) < tol, k
        else:
            assert ref.rel_error(got[k], v) < tol, (k, ref.rel_error(got[k], v))


# ------------------------------------------------------------------------ forward
@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_forward_runs_each_sequence_to_its_own_length(cell, act, seq):
    rng = np.random.default_rng(0)
    net = _net(cell, act)
    seqs = _seqs(rng)
    h0 = _h0(net, len(seqs), rng)
    out, state = net.forward(seqs, return_sequences=seq, h0=h0, return_state=True)
    for i, x in enumerate(seqs):
        h, c = _split_h0(h0, i)
        P, (hN, cN) = ref.ref_forward(cell, net.state_dict(), x[None], num_layers=2,
                                      activation=act, return_sequences=seq, h0=h, c0=c,
                                      return_state=True)
        np.testing.assert_allclose(out[i], P[0], rtol=1e-12, atol=1e-12)
        got_h = state[0] if cell == "lstm" else state
        np.testing.assert_allclose(got_h[:, i], hN[:, 0], rtol=1e-12, atol=1e-12)
        if cell == "lstm":
            np.testing.assert_allclose(state[1][:, i], cN[:, 0], rtol=1e-12, atol=1e-12)
    if seq:
        assert [o.shape for o in out] == [(k, 2) for k in LENGTHS]


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_padding_never_leaks_bitwise(cell, act):
    """A padded array with lengths gives bitwise the results of the list, whatever the
    padding holds (zeros, noise, NaN); and full lengths are the fixed-length path."""
    rng = np.random.default_rng(1)
    net = _net(cell, act)
    seqs = _seqs(rng)
    n, T = len(seqs), max(LENGTHS)
    lens = np.array(LENGTHS)
    results = []
    for k, fill in enumerate((0.0, np.nan, "noise")):
        X = np.full((n, T, C), fill if fill != "noise" else 0.0)
        if fill == "noise":
            X = rng.normal(scale=100, size=X.shape)
        for i, s in enumerate(seqs):
            X[i, :len(s)] = s
        out = net.forward(X, return_sequences=True, lengths=lens)
        last, h = net.forward(X, lengths=lens, return_state=True)
        Y = rng.normal(size=(n, T, 2)) if k == 0 else results[0][3]
        Yp = Y.copy()
        Yp[np.arange(T)[None] >= lens[:, None]] = (0.0, np.nan, 7.0)[k]
        loss, g = net.loss_grad(X, Yp, return_sequences=True, lengths=lens, input_grad=True)
        results.append((out, last, h, Y, loss, g))
    base = results[0]
    for other in results[1:]:
        np.testing.assert_array_equal(other[0], base[0])  # NaN past each length in both
        np.testing.assert_array_equal(other[1], base[1])
        np.testing.assert_array_equal(np.asarray(other[2][0] if cell == "lstm" else other[2]),
                                      np.asarray(base[2][0] if cell == "lstm" else base[2]))
        assert other[4] == base[4]
        for k in base[5]:
            np.testing.assert_array_equal(other[5][k], base[5][k])
    assert np.isnan(base[0][1, 1:]).all() and np.isfinite(base[0][2]).all()
    assert (base[5]["input"][1, 1:] == 0).all()
    # every length full: the fixed-length path, bitwise
    X = rng.normal(size=(n, T, C))
    np.testing.assert_array_equal(net.forward(X, lengths=np.full(n, T)), net.forward(X))


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_state_carries_a_sequence_across_calls(cell, act):
    """forward(X[:, :k]) then forward(X[:, k:], h0=its final state) is forward(X)."""
    rng = np.random.default_rng(2)
    net = _net(cell, act)
    X = rng.normal(size=(6, 9, C))
    whole, state_whole = net.forward(X, return_sequences=True, return_state=True)
    first, state = net.forward(X[:, :4], return_sequences=True, return_state=True)
    second, state2 = net.forward(X[:, 4:], return_sequences=True, h0=state, return_state=True)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-12,
                               atol=1e-13)
    flat = (lambda s: np.concatenate(s)) if cell == "lstm" else (lambda s: s)
    np.testing.assert_allclose(flat(state2), flat(state_whole), rtol=1e-12, atol=1e-13)


# ------------------------------------------------------------------------ gradients
@pytest.mark.parametrize("bptt", [None, 2], ids=["full", "trunc2"])
@pytest.mark.parametrize("loss", ["squared_error", "quantile", "cross_entropy"])
@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_loss_grad_matches_reference_per_sequence(cell, act, seq, loss, bptt):
    rng = np.random.default_rng(3)
    seqs = _seqs(rng)
    O, Ys, kw = _targets(rng, seqs, loss, seq)
    net = _net(cell, act, O=O)
    h0 = _h0(net, len(seqs), rng)
    sw = rng.uniform(0.5, 2.0, size=len(seqs))
    value, grads = net.loss_grad(seqs, Ys, loss, return_sequences=seq, bptt_steps=bptt,
                                 sample_weight=sw, input_grad=True, h0=h0, **kw)
    want_value, want = _ragged_ref(net, act, seqs, Ys, loss, seq, kw, sw, bptt, h0)
    assert value == pytest.approx(want_value, rel=1e-12)
    _assert_grads(grads, want, 1e-10)


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_ragged_gradients_by_central_differences(cell, act):
    """The network's own ragged loss, differentiated numerically in its weights and its
    initial state (no reference involved)."""
    rng = np.random.default_rng(4)
    seqs = _seqs(rng, (4, 1, 3))
    Ys = [rng.normal(size=(len(s), 2)) for s in seqs]
    net = _net(cell, act)
    h0 = _h0(net, 3, rng)
    _, grads = net.loss_grad(seqs, Ys, return_sequences=True, h0=h0)
    sd = net.state_dict()

    def loss_with(key, value):
        probe, state = _probe(net, act, key, value, h0)
        return probe.loss_grad(seqs, Ys, return_sequences=True, h0=state)[0]

    keys = ["rnn.weight_hh_l0", "rnn.weight_ih_l1", "h0"] + (["c0"] if cell == "lstm" else [])
    for key in keys:
        at = (h0[0] if cell == "lstm" else h0) if key == "h0" else h0[1] if key == "c0" \
            else sd[key]
        num = ref.numeric_grad(lambda v, key=key: loss_with(key, v), at, **fd_options(act))
        assert ref.rel_error(grads[key], num) < 1e-7, key


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_ragged_results_do_not_depend_on_threads(cell, act):
    rng = np.random.default_rng(5)
    seqs = _seqs(rng, tuple(rng.integers(1, 12, size=70)))
    Ys = [rng.normal(size=(len(s), 2)) for s in seqs]
    net = _net(cell, act, dtype=np.float32)
    one = net.loss_grad(seqs, Ys, return_sequences=True, n_jobs=1)
    two = net.loss_grad(seqs, Ys, return_sequences=True, n_jobs=2)
    assert one[0] == two[0]
    for k in one[1]:
        np.testing.assert_array_equal(one[1][k], two[1][k])
    np.testing.assert_array_equal(net.forward(seqs, n_jobs=1), net.forward(seqs, n_jobs=2))


# ------------------------------------------------------------------------ PyTorch
@pytest.mark.parametrize("seq", [False, True], ids=["many2one", "many2many"])
@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_packed_sequences_match_pytorch(cell, act, seq):
    torch = pytest.importorskip("torch")
    from conftest import make_torch_net
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    rng = np.random.default_rng(6)
    seqs = _seqs(rng)
    n, T = len(seqs), max(LENGTHS)
    net = _net(cell, act)
    tnet = make_torch_net(cell, act, C, H, 2, 2, dtype=torch.float64)
    tnet.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    h0 = _h0(net, n, rng)
    Ys = [rng.normal(size=(len(s), 2)) if seq else rng.normal(size=2) for s in seqs]

    X = np.zeros((n, T, C))
    for i, s in enumerate(seqs):
        X[i, :len(s)] = s
    th = [torch.tensor(a, requires_grad=True) for a in (h0 if cell == "lstm" else (h0,))]
    packed = pack_padded_sequence(torch.from_numpy(X), torch.tensor(LENGTHS), batch_first=True,
                                  enforce_sorted=False)
    out, hn = tnet.rnn(packed, tuple(th) if cell == "lstm" else th[0])
    if seq:
        padded, _ = pad_packed_sequence(out, batch_first=True)
        P = tnet.head(padded)
        mask = torch.from_numpy(np.arange(T)[None] < np.array(LENGTHS)[:, None])
        Y = np.zeros((n, T, 2))
        for i, y in enumerate(Ys):
            Y[i, :len(y)] = y
        err = ((P - torch.from_numpy(Y)) ** 2).sum(-1)
        loss = (err * mask).sum() / (mask.sum() * 2)
    else:
        top = (hn[0] if cell == "lstm" else hn)[-1]
        P = tnet.head(top)
        loss = torch.nn.functional.mse_loss(P, torch.from_numpy(np.stack(Ys)))
    loss.backward()

    ours = net.forward(seqs, return_sequences=seq, h0=h0)
    if seq:
        for i, s in enumerate(seqs):
            np.testing.assert_allclose(ours[i], P[i, :len(s)].detach().numpy(), atol=1e-12)
    else:
        np.testing.assert_allclose(ours, P.detach().numpy(), atol=1e-12)
    value, grads = net.loss_grad(seqs, Ys, return_sequences=seq, h0=h0)
    assert value == pytest.approx(loss.item(), rel=1e-11)
    for k, p in tnet.named_parameters():
        np.testing.assert_allclose(grads[k], p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(grads["h0"], th[0].grad.numpy(), rtol=1e-9, atol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(grads["c0"], th[1].grad.numpy(), rtol=1e-9, atol=1e-12)
    got_hn = net.forward(seqs, h0=h0, return_state=True)[1]
    if cell == "lstm":
        np.testing.assert_allclose(got_hn[0], hn[0].detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(got_hn[1], hn[1].detach().numpy(), atol=1e-12)
    else:
        np.testing.assert_allclose(got_hn, hn.detach().numpy(), atol=1e-12)


# ------------------------------------------------------------------------ bad input
def test_bad_sequences_are_refused_by_name():
    net = _net("lstm", "tanh")
    rng = np.random.default_rng(7)
    good = _seqs(rng, (3, 2))
    cases = [
        ([good[0], np.zeros((0, C))], "`X[1]` is an empty sequence"),
        ([good[0], np.zeros((3, C + 1))], "`X[1]` has 3 channels"),
        ([good[0], np.full((3, C), np.nan)], "`X[1]` must be finite"),
    ]
    for X, msg in cases:
        with pytest.raises(ValueError, match=re.escape(msg)):
            net.forward(X)
    for X in ([], np.zeros((0, 3, C))):
        with pytest.raises(ValueError, match="2 or 3-D|at least one sample"):
            net.forward(X)
    X = np.zeros((2, 3, C))
    for lengths, msg in [([0, 3], r"sequence 0 has length 0"), ([3, 4], r"sequence 1 has "
                         "length 4"), ([1.5, 2], "integers"), ([3], "2 integers")]:
        with pytest.raises(ValueError, match=msg):
            net.forward(X, lengths=lengths)
    with pytest.raises(ValueError, match="`lengths` must be None"):
        net.forward(good, lengths=[3, 2])
    with pytest.raises(ValueError, match=r"`X` must be finite within"):
        Xn = np.zeros((2, 3, C))
        Xn[1, 0, 0] = np.nan
        net.forward(Xn, lengths=[3, 2])
    h = np.zeros((2, 2, H))
    with pytest.raises(ValueError, match=r"pair \(h0, c0\)"):
        net.forward(good, h0=h)
    with pytest.raises(ValueError, match=r"`c0` must have shape \(2, 2, 4\)"):
        net.forward(good, h0=(h, np.zeros((2, 3, H))))
    gru = _net("gru", "tanh")
    with pytest.raises(ValueError, match=r"`h0` must have shape \(2, 2, 4\)"):
        gru.forward(good, h0=np.zeros((1, 2, H)))
    with pytest.raises(ValueError, match="sequence 1 has 3 targets for 2 steps"):
        net.loss_grad(good, [np.zeros((3, 2)), np.zeros((3, 2))], return_sequences=True)
    with pytest.raises(ValueError, match="3 target sequences for 2 inputs"):
        net.loss_grad(good, [np.zeros((3, 2))] * 3, return_sequences=True)
    before = net.params.copy()
    assert np.array_equal(net.params, before)


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_gradient_of_the_final_state_from_outside(cell, act):
    """loss_grad(..., hN_grad=G) is the gradient of loss + sum(G * h_n), checked by central
    differences; this is how an encoder receives its decoder's gradient."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(3, 5, C))
    Y = rng.normal(size=(3, 2))
    net = _net(cell, act)
    G = _h0(net, 3, rng)
    h0 = _h0(net, 3, rng)
    _, grads = net.loss_grad(X, Y, h0=h0, hN_grad=G)
    sd = net.state_dict()

    def objective(key, value):
        probe, state = _probe(net, act, key, value, h0)
        loss = probe.loss_grad(X, Y, h0=state)[0]
        _, hN = probe.forward(X, h0=state, return_state=True)
        if cell == "lstm":
            return loss + np.sum(G[0] * hN[0]) + np.sum(G[1] * hN[1])
        return loss + np.sum(G * hN)

    for key in ("rnn.weight_hh_l0", "rnn.weight_ih_l1", "rnn.bias_hh_l0", "h0"):
        at = (h0[0] if cell == "lstm" else h0) if key == "h0" else sd[key]
        num = ref.numeric_grad(lambda v, key=key: objective(key, v), at, **fd_options(act))
        assert ref.rel_error(grads[key], num) < 1e-7, key
    # without it: the loss's own gradient, bitwise as before
    zero = (np.zeros_like(G[0]), np.zeros_like(G[1])) if cell == "lstm" else np.zeros_like(G)
    a = net.loss_grad(X, Y, h0=h0, hN_grad=zero)[1]
    b = net.loss_grad(X, Y, h0=h0)[1]
    for k in b:
        np.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(ValueError, match="`hN_grad` needs sequences of one length"):
        net.loss_grad(X, Y, lengths=[5, 3, 2], hN_grad=G)
    with pytest.raises(ValueError, match=r"`hN_grad`|`cN_grad`"):
        net.loss_grad(X, Y, hN_grad=np.zeros((2, 3, H + 1)) if cell != "lstm"
                      else (np.zeros((2, 3, H)), np.zeros((1, 3, H))))


@pytest.mark.parametrize("cell,act", CELL_CONFIGS, ids=CELL_IDS)
def test_final_state_gradient_matches_pytorch(cell, act):
    torch = pytest.importorskip("torch")
    from conftest import make_torch_net

    rng = np.random.default_rng(9)
    X = rng.normal(size=(4, 6, C))
    Y = rng.normal(size=(4, 2))
    net = _net(cell, act)
    tnet = make_torch_net(cell, act, C, H, 2, 2, dtype=torch.float64)
    tnet.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    h0, G = _h0(net, 4, rng), _h0(net, 4, rng)
    parts = h0 if cell == "lstm" else (h0,)
    th = [torch.tensor(a, requires_grad=True) for a in parts]
    out, hn = tnet.rnn(torch.from_numpy(X), tuple(th) if cell == "lstm" else th[0])
    loss = torch.nn.functional.mse_loss(tnet.head(out[:, -1]), torch.from_numpy(Y))
    if cell == "lstm":
        total = loss + (hn[0] * torch.from_numpy(G[0])).sum() + \
            (hn[1] * torch.from_numpy(G[1])).sum()
    else:
        total = loss + (hn * torch.from_numpy(G)).sum()
    total.backward()
    _, grads = net.loss_grad(X, Y, h0=h0, hN_grad=G)
    for k, p in tnet.named_parameters():
        np.testing.assert_allclose(grads[k], p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(grads["h0"], th[0].grad.numpy(), rtol=1e-9, atol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(grads["c0"], th[1].grad.numpy(), rtol=1e-9, atol=1e-12)
