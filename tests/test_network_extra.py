"""Network: pickling, initialisation schemes, weight mask, divergence visibility, n_jobs values."""

import pickle

import numpy as np
import pytest

from tsrnn.nn import Network


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_pickle_round_trip_predicts_identically(cell):
    net = Network(cell, input_size=2, hidden_size=5, num_layers=2, output_size=3, random_state=1)
    X = np.random.default_rng(0).normal(size=(9, 6, 2))
    clone = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(clone.forward(X), net.forward(X))
    assert repr(clone) == repr(net)


@pytest.mark.parametrize("cell,gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_orthogonal_init(cell, gates):
    H = 6
    net = Network(cell, input_size=3, hidden_size=H, num_layers=2, init="orthogonal",
                  dtype=np.float64, random_state=0)
    sd = net.state_dict()
    for k in range(2):
        w_hh = sd[f"rnn.weight_hh_l{k}"]
        for g in range(gates):
            block = w_hh[g * H:(g + 1) * H]
            np.testing.assert_allclose(block @ block.T, np.eye(H), atol=1e-12)
        b_ih = sd[f"rnn.bias_ih_l{k}"]
        want = np.zeros(gates * H)
        if cell == "lstm":
            want[H:2 * H] = 1.0  # forget gate
        np.testing.assert_array_equal(b_ih, want)
        np.testing.assert_array_equal(sd[f"rnn.bias_hh_l{k}"], 0.0)
        fan_in = 3 if k == 0 else H
        bound = np.sqrt(6.0 / (fan_in + H))
        assert np.abs(sd[f"rnn.weight_ih_l{k}"]).max() <= bound


def test_pytorch_init_bounds():
    H = 8
    net = Network("gru", input_size=2, hidden_size=H, dtype=np.float64, random_state=0)
    for name, v in net.state_dict().items():
        assert np.abs(v).max() <= 1 / np.sqrt(H), name
        assert np.abs(v).max() > 0.5 / np.sqrt(H), name  # really spread over the range


def test_reset_parameters_reproducible():
    net = Network("lstm", hidden_size=4, random_state=3)
    first = net.params.copy()
    net.reset_parameters(99)
    assert not np.array_equal(net.params, first)
    net.reset_parameters(3)
    np.testing.assert_array_equal(net.params, first)


def test_weight_mask_marks_weights_not_biases():
    net = Network("lstm", input_size=2, hidden_size=3, num_layers=2, output_size=2)
    mask = net.weight_mask
    views = net._views(np.arange(net.n_params))
    for name, idx in views.items():
        assert mask[idx.ravel()].all() == ("weight" in name)
        assert mask[idx.ravel()].any() == ("weight" in name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_diverged_weights_show_as_non_finite(dtype):
    """fastmath keeps NaN/inf semantics: a blown-up network cannot look healthy."""
    net = Network("lstm", input_size=1, hidden_size=4, dtype=dtype, random_state=0)
    net.params[0] = np.nan
    X = np.ones((3, 5, 1))
    assert not np.isfinite(net.forward(X)).all()
    loss, grads = net.loss_grad(X, np.zeros(3))
    assert not np.isfinite(loss) or not all(np.isfinite(g).all() for g in grads.values())


def test_large_inputs_saturate_without_nan():
    """The float32 rational tanh is clamped: huge pre-activations give +-1, not NaN."""
    for cell in ("rnn", "lstm", "gru"):
        net = Network(cell, input_size=1, hidden_size=4, random_state=0)
        out = net.forward(np.full((2, 4, 1), 1e30))
        assert np.isfinite(out).all(), cell


@pytest.mark.parametrize("n_jobs", [-1, -2, 1, 2, 64])
def test_n_jobs_values_accepted_and_blas_threads_restored(n_jobs):
    from threadpoolctl import threadpool_info

    before = [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]
    net = Network("gru", hidden_size=4, random_state=0)
    X = np.random.default_rng(0).normal(size=(40, 5))
    ref = net.loss_grad(X, np.zeros(40))[0]
    assert net.loss_grad(X, np.zeros(40), n_jobs=n_jobs)[0] == ref
    assert [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"] == before


@pytest.mark.parametrize("n_jobs", [0, 1.5, "2", True])
def test_bad_n_jobs(n_jobs):
    net = Network("gru", hidden_size=4)
    with pytest.raises(ValueError, match="`n_jobs`"):
        net.forward(np.zeros((2, 3)), n_jobs=n_jobs)


def test_scalar_activations_keep_nan_and_saturate():
    from tsrnn._engine.jit import njit
    from tsrnn._engine.kernels.common import sigmoid, tanh

    @njit
    def both(x):
        return tanh(x), sigmoid(x)

    for dt in (np.float32, np.float64):
        t, s = both(dt(np.nan))
        assert np.isnan(t) and np.isnan(s), dt
        # float32 clamps at Eigen's 7.905, where the approximation is 2 ulp below 1
        np.testing.assert_allclose(both(dt(np.inf)), (1, 1), atol=3e-7, rtol=0)
        np.testing.assert_allclose(both(dt(-np.inf)), (-1, 0), atol=3e-7, rtol=0)
        xs = np.linspace(-12, 12, 2001).astype(dt)
        got = np.array([both(x) for x in xs], dtype=np.float64)
        x64 = xs.astype(np.float64)
        np.testing.assert_allclose(got[:, 0], np.tanh(x64), atol=3e-7, rtol=0)
        np.testing.assert_allclose(got[:, 1], 1 / (1 + np.exp(-x64)), atol=3e-7, rtol=0)


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "huber", "quantile",
                                  "cross_entropy"])
def test_forward_only_loss_equals_the_bptt_loss(loss, seq):
    """Trainer.evaluate uses Network._kernel_loss (no backward pass) for validation."""
    from tsrnn._engine.kernels.losses import CODES

    rng = np.random.default_rng(0)
    n, T = 9, 5
    lead = (n, T) if seq else (n, 1)
    qs = np.array([0.1, 0.5, 0.9]) if loss == "quantile" else np.empty(0)
    O = 6 if loss == "quantile" else 3
    net = Network("gru", input_size=2, hidden_size=4, output_size=O, dtype=np.float64,
                  random_state=0)
    X = rng.normal(size=(n, T, 2))
    if loss == "cross_entropy":
        Y = rng.integers(0, O, size=lead + (1,)).astype(np.float64)
    else:
        Y = rng.normal(size=lead + (2 if loss == "quantile" else O,))
    sw = rng.uniform(0.5, 2.0, size=n)
    args = (X, Y, sw, CODES[loss], qs, 0.7, seq)
    want = net._kernel_loss_grad(*args, T)[0]
    assert net._kernel_loss(*args) == pytest.approx(want, rel=1e-12)
