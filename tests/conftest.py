"""Shared helpers for the tsrnn engine tests.

Test modules import the plain helpers below with ``from conftest import ...``
(pyproject's ``pythonpath`` puts the checkout and ``tests/`` on ``sys.path``).
The PyTorch helpers import torch lazily so that the torch-free tests never need it.
"""

from __future__ import annotations

import _reference as ref
import numpy as np
import pytest

# (cell, activation) combinations under test, with readable ids
CELL_CONFIGS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
CELL_IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]

QUANTILES = (0.1, 0.5, 0.9)
HUBER_DELTA = 0.5


def loss_setup(loss, n, T, return_sequences, rng):
    """Targets and loss options for ``loss``.

    Returns ``(output_size, Y, loss_kwargs)``; regression targets have two
    columns, the quantile loss two targets at three levels (six outputs),
    cross-entropy three classes.
    """
    lead = (n, T) if return_sequences else (n,)
    if loss in ("squared_error", "absolute_error"):
        return 2, rng.normal(size=lead + (2,)), {}
    if loss == "huber":
        # residuals of order 1 hit both sides of delta = 0.5
        return 2, rng.normal(scale=1.0, size=lead + (2,)), {"huber_delta": HUBER_DELTA}
    if loss == "quantile":
        K = 2
        return K * len(QUANTILES), rng.normal(size=lead + (K,)), {"quantiles": list(QUANTILES)}
    if loss == "cross_entropy":
        K = 3
        return K, rng.integers(0, K, size=lead), {}
    raise ValueError(loss)


def relu_alive(weights, activation, shift=0.5):
    """For relu nets shift the input biases up so that most units are active
    (a net whose units are all dead has identically zero gradients, which
    would make gradient checks vacuous).  Other activations: unchanged."""
    if activation != "relu":
        return weights
    return {k: (v + shift if k.startswith("rnn.bias_ih") else v) for k, v in weights.items()}


def fd_options(activation):
    """Central-difference settings: the 5-point stencil with eps=1e-4 for
    smooth nets; for relu nets a 2-point stencil with a tiny step so that the
    probe does not cross a kink (|pre-activation| < 2 eps) by accident."""
    if activation == "relu":
        return {"eps": 1e-6, "order": 2}
    return {"eps": 1e-4, "order": 4}


def random_masks(num_layers, n, T, H, rng, p=0.3):
    """Dropout masks of shape (L-1, n, T, H) with values 0 or 1/(1-p)."""
    keep = rng.random((num_layers - 1, n, T, H)) >= p
    return keep / (1.0 - p)


def make_network(cell, activation, weights, *, input_size, hidden_size, num_layers,
                 output_size, dtype=np.float64):
    """A ``tsrnn.nn.Network`` holding ``weights`` (cast to ``dtype``)."""
    from tsrnn.nn import Network

    net = Network(
        cell=cell,
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        output_size=output_size,
        activation=activation,
        dtype=dtype,
        random_state=0,
    )
    net.load_state_dict({k: np.asarray(v, dtype=dtype) for k, v in weights.items()})
    return net


def assert_grads_close(got, want, *, rtol, atol, keys=None, err_msg=""):
    """Compare two gradient dicts key by key, reporting max abs/rel errors."""
    keys = list(want) if keys is None else keys
    missing = [k for k in keys if k not in got]
    assert not missing, f"missing gradient keys {missing}"
    bad = []
    for k in keys:
        g = np.asarray(got[k], dtype=np.float64)
        w = np.asarray(want[k], dtype=np.float64)
        assert g.shape == w.shape, f"{k}: shape {g.shape} != {w.shape}"
        if not np.allclose(g, w, rtol=rtol, atol=atol):
            diff = np.abs(g - w)
            bad.append(
                f"{k}: max abs err {diff.max():.3e}, max rel err "
                f"{(diff / np.maximum(np.abs(w), 1e-300)).max():.3e}, "
                f"norm-rel err {ref.rel_error(g, w):.3e}"
            )
    assert not bad, (err_msg + "\n" if err_msg else "") + "\n".join(bad)


def assert_close_scaled(got, want, rtol, name=""):
    """allclose with ``atol = rtol * max|want|`` (for float32 comparisons)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    scale = max(float(np.abs(want).max()) if want.size else 0.0, 1e-30)
    diff = np.abs(got - want)
    ok = diff <= rtol * np.abs(want) + rtol * scale
    assert ok.all(), (
        f"{name}: max abs err {diff.max():.3e} (scale {scale:.3e}), "
        f"norm-rel err {ref.rel_error(got, want):.3e}"
    )


# ---------------------------------------------------------------------------
# PyTorch helpers (import torch lazily)
# ---------------------------------------------------------------------------


def torch_module_class(cell):
    import torch.nn as tnn

    return {"rnn": tnn.RNN, "lstm": tnn.LSTM, "gru": tnn.GRU}[cell]


def make_torch_net(cell, activation, input_size, hidden_size, num_layers, output_size,
                   dtype=None):
    """``Net(nn.Module)`` with attributes ``rnn`` and ``head`` as in the spec."""
    import torch.nn as tnn

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            kw = {"nonlinearity": activation} if cell == "rnn" else {}
            self.rnn = torch_module_class(cell)(
                input_size, hidden_size, num_layers, batch_first=True, **kw
            )
            self.head = tnn.Linear(hidden_size, output_size)

        def forward(self, x, return_sequences=False):
            out, _ = self.rnn(x)
            if return_sequences:
                return self.head(out)
            return self.head(out[:, -1, :])

    net = Net()
    if dtype is not None:
        net = net.to(dtype)
    return net


def torch_loss(loss, P, Y, sample_weight=None, *, quantiles=None, huber_delta=1.0):
    """The weighted losses of the spec written with torch ops (autograd-able).

    ``P`` is a tensor (n, O) or (n, T, O); ``Y`` a NumPy array.
    """
    import torch
    import torch.nn.functional as F

    dtype = P.dtype
    seq = P.dim() == 3
    n = P.shape[0]
    T = P.shape[1] if seq else 1
    w = (torch.ones(n, dtype=dtype) if sample_weight is None
         else torch.as_tensor(np.asarray(sample_weight), dtype=dtype))
    S = w.sum() * T
    Wr = w[:, None, None] if seq else w[:, None]
    if loss == "cross_entropy":
        K = P.shape[-1]
        lab = torch.as_tensor(np.asarray(Y), dtype=torch.long)
        nll = F.cross_entropy(P.reshape(-1, K), lab.reshape(-1), reduction="none")
        nll = nll.reshape(P.shape[:-1])
        return (nll * Wr[..., 0]).sum() / S
    Yt = torch.as_tensor(np.asarray(Y), dtype=dtype)
    if loss == "quantile":
        q = torch.as_tensor(np.asarray(quantiles, dtype=np.float64), dtype=dtype)
        Q = q.numel()
        K = Yt.shape[-1]
        Yx = torch.repeat_interleave(Yt, Q, dim=-1)
        qx = q.repeat(K)
        r = Yx - P
        elem = torch.where(r >= 0, qx * r, (qx - 1) * r)
        return (Wr * elem).sum() / (S * K * Q)
    O = P.shape[-1]
    if loss == "squared_error":
        elem = F.mse_loss(P, Yt, reduction="none")
    elif loss == "absolute_error":
        elem = F.l1_loss(P, Yt, reduction="none")
    elif loss == "huber":
        elem = F.huber_loss(P, Yt, reduction="none", delta=huber_delta)
    else:
        raise ValueError(loss)
    return (Wr * elem).sum() / (S * O)


def torch_forward_emulated(cell, activation, params, X, *, num_layers, return_sequences=False,
                           dropout_masks=None, bptt_steps=None):
    """Forward pass built from PyTorch's own single-layer modules.

    ``params`` maps the spec's keys to torch tensors (leaves with
    ``requires_grad``).  Each layer is a 1-layer ``nn.RNN/LSTM/GRU`` evaluated
    with ``torch.func.functional_call`` on those tensors, *one time step at a
    time*, and its recurrent state is ``.detach()``-ed when the state goes from
    step t-1 into step t with ``(T - t) % bptt_steps == 0``.  Layer k+1 reads
    layer k's output multiplied by ``dropout_masks[k]``.
    """
    import torch
    from torch.func import functional_call

    X = torch.as_tensor(X) if not isinstance(X, torch.Tensor) else X
    n, T, C = X.shape
    H = params["rnn.weight_hh_l0"].shape[1]
    kw = {"nonlinearity": activation} if cell == "rnn" else {}
    inp = X
    for k in range(num_layers):
        in_k = C if k == 0 else H
        mod = torch_module_class(cell)(in_k, H, 1, batch_first=True, **kw).to(X.dtype)
        p = {
            "weight_ih_l0": params[f"rnn.weight_ih_l{k}"],
            "weight_hh_l0": params[f"rnn.weight_hh_l{k}"],
            "bias_ih_l0": params[f"rnn.bias_ih_l{k}"],
            "bias_hh_l0": params[f"rnn.bias_hh_l{k}"],
        }
        state = None
        outs = []
        for t in range(T):
            if state is not None and bptt_steps is not None and (T - t) % bptt_steps == 0:
                state = tuple(s.detach() for s in state) if cell == "lstm" else state.detach()
            out, state = functional_call(mod, p, (inp[:, t : t + 1, :], state))
            outs.append(out)
        Hs = torch.cat(outs, dim=1)
        if k + 1 < num_layers:
            inp = (Hs if dropout_masks is None
                   else Hs * torch.as_tensor(np.asarray(dropout_masks[k]), dtype=X.dtype))
    Wh, bh = params["head.weight"], params["head.bias"]
    if return_sequences:
        return Hs @ Wh.T + bh
    return Hs[:, -1, :] @ Wh.T + bh


def torch_loss_grad(cell, activation, weights, X, Y, loss, *, num_layers, sample_weight=None,
                    return_sequences=False, bptt_steps=None, quantiles=None, huber_delta=1.0,
                    dropout_masks=None, dtype=None):
    """Loss value and autograd gradients (incl. ``"input"``) via
    :func:`torch_forward_emulated`; NumPy in, NumPy out."""
    import torch

    dtype = torch.float64 if dtype is None else dtype
    params = {k: torch.tensor(np.asarray(v), dtype=dtype, requires_grad=True)
              for k, v in weights.items()}
    Xt = torch.tensor(np.asarray(X), dtype=dtype, requires_grad=True)
    P = torch_forward_emulated(cell, activation, params, Xt, num_layers=num_layers,
                               return_sequences=return_sequences,
                               dropout_masks=dropout_masks, bptt_steps=bptt_steps)
    L = torch_loss(loss, P, Y, sample_weight, quantiles=quantiles, huber_delta=huber_delta)
    L.backward()
    grads = {k: v.grad.numpy().copy() for k, v in params.items()}
    grads["input"] = Xt.grad.numpy().copy()
    return float(L.detach()), grads, P.detach().numpy().copy()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# ---------------------------------------------------------------------------
# forecasters
# ---------------------------------------------------------------------------

def forecaster(cls=None, **params):
    """An ``RNNForecaster`` (or subclass ``cls``) from a flat list of settings: the
    network's (``hidden_size``, ``max_iter``, ...) go to its default estimator, the rest
    to the forecaster."""
    import inspect

    from tsrnn import RNNForecaster

    cls = RNNForecaster if cls is None else cls
    own = set(inspect.signature(RNNForecaster).parameters)
    network = {k: v for k, v in params.items() if k not in own}
    fc = {k: v for k, v in params.items() if k in own}
    if network:
        fc["estimator"] = RNNForecaster.default_estimator(**network)
    return cls(**fc)


def subprocess_env(**extra):
    """The environment for a test's Python subprocess: this checkout first on its path
    (pytest's ``pythonpath`` setting reaches only pytest's own process), and ``extra``."""
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def sigint_at_call(monkeypatch, k, exc=None):
    """Send SIGINT to this process right after the ``k``-th minibatch kernel call
    (``Network._kernel_loss_grad``), or raise ``exc`` from inside it, as a forced second
    Ctrl-C inside Numba's machinery would.  Returns the call counter."""
    import os
    import signal

    from tsrnn._engine.network import Network

    real = Network._kernel_loss_grad
    calls = {"n": 0}

    def kernel(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == k:
            if exc is not None:
                raise exc
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(Network, "_kernel_loss_grad", kernel)
    return calls


# ------------------------------------------ shared by the cluster tests (Dask, Ray)
def tiny_fit():
    """Fit a tiny LSTM for two epochs: loads (or compiles) its kernels in this process."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from tsrnn import RNNRegressor

    X = np.random.RandomState(0).standard_normal((64, 8, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        RNNRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, X[:, -1, 0])
    return True


def search_windows():
    """The last 400 days of Seattle's maximum temperature as 8-step windows."""
    import tsrnn

    y = tsrnn.datasets.load_weather()["temp_max"].iloc[-400:]
    return tsrnn.windowing.make_windows(y, target="temp_max", lags=8, horizon=1)


def small_search(n_jobs, n_jobs_estimator=None):
    """A fitted GridSearchCV of 4 small networks x 3 folds (``n_jobs`` its workers)."""
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

    from tsrnn import RNNRegressor

    Xw, yw = search_windows()
    grid = {"hidden_size": [4, 8], "cell": ["lstm", "gru"]}
    est = RNNRegressor(max_iter=4, early_stopping=False, random_state=0, n_jobs=n_jobs_estimator)
    return GridSearchCV(est, grid, cv=TimeSeriesSplit(n_splits=3), n_jobs=n_jobs,
                        scoring="neg_mean_absolute_error").fit(Xw, yw.to_numpy().ravel())


def assert_same_search(got, want):
    """Two searches' ``cv_results_`` (all but the timings), best parameters and the
    refitted best model's predictions are bitwise equal."""
    got_results = {k: v for k, v in got.cv_results_.items() if "time" not in k}
    want_results = {k: v for k, v in want.cv_results_.items() if "time" not in k}
    assert got_results.keys() == want_results.keys()
    for key in want_results:
        np.testing.assert_array_equal(np.asarray(got_results[key]),
                                      np.asarray(want_results[key]), err_msg=key)
    assert got.best_params_ == want.best_params_
    Xw, _ = search_windows()
    np.testing.assert_array_equal(got.predict(Xw), want.predict(Xw))
