"""Optimizers against hand-computed updates (and torch.optim where installed)."""

import numpy as np
import pytest

from tsrnn._engine.optim import SGD, Adam, clip_grad_norm


def _problem(dtype=np.float64):
    rng = np.random.default_rng(0)
    theta = rng.normal(size=7).astype(dtype)
    grads = [rng.normal(size=7).astype(dtype) for _ in range(3)]
    mask = np.array([1, 1, 0, 1, 0, 1, 1], bool)
    return theta, grads, mask


def _clip(g, max_norm):
    if max_norm is None:
        return g
    coef = max_norm / (np.linalg.norm(g) + 1e-6)
    return g * min(coef, 1.0)


@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("clip", [None, 0.5])
def test_adam_matches_hand_computed_update(alpha, clip):
    theta, grads, mask = _problem()
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = Adam(7, learning_rate=lr, alpha=alpha, decay_mask=mask, clip_norm=clip)
    p = theta.copy()
    want = theta.copy()
    m = np.zeros(7)
    v = np.zeros(7)
    for t, g in enumerate(grads, start=1):
        opt.step(p, g)
        d = _clip(g, clip) + alpha * want * mask
        m = b1 * m + (1 - b1) * d
        v = b2 * v + (1 - b2) * d * d
        want = want - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(p, want, rtol=1e-12, atol=1e-14)
    assert opt.t == 3


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("clip", [None, 0.5])
def test_sgd_matches_hand_computed_update(momentum, nesterov, alpha, clip):
    theta, grads, mask = _problem()
    lr = 0.05
    opt = SGD(7, learning_rate=lr, momentum=momentum, nesterov=nesterov, alpha=alpha,
              decay_mask=mask, clip_norm=clip)
    p = theta.copy()
    want = theta.copy()
    buf = np.zeros(7)
    for g in grads:
        opt.step(p, g)
        d = _clip(g, clip) + alpha * want * mask
        if momentum:
            buf = momentum * buf + d
            d = d + momentum * buf if nesterov else buf
        want = want - lr * d
        np.testing.assert_allclose(p, want, rtol=1e-12, atol=1e-14)


def test_first_sgd_step_is_plain_gradient_step():
    theta, grads, _ = _problem()
    p = theta.copy()
    SGD(7, learning_rate=0.1, momentum=0.9, nesterov=False).step(p, grads[0])
    np.testing.assert_allclose(p, theta - 0.1 * grads[0], rtol=1e-14)


def test_step_does_not_modify_gradient_and_works_in_float32():
    theta, grads, mask = _problem(np.float32)
    g0 = grads[0].copy()
    p = theta.copy()
    opt = Adam(7, learning_rate=0.01, alpha=0.1, decay_mask=mask, clip_norm=0.5, dtype=np.float32)
    opt.step(p, grads[0])
    np.testing.assert_array_equal(grads[0], g0)
    assert p.dtype == np.float32 and opt.m.dtype == np.float32
    assert not np.array_equal(p, theta)


def test_clip_grad_norm():
    g = np.array([3.0, 4.0])
    clipped, norm = clip_grad_norm(g, 1.0)
    assert norm == 5.0
    np.testing.assert_allclose(clipped, g / (5.0 + 1e-6))
    same, _ = clip_grad_norm(g, 10.0)
    np.testing.assert_array_equal(same, g)
    with pytest.raises(ValueError, match="`max_norm`"):
        clip_grad_norm(g, 0.0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"learning_rate": 0.0}, "`learning_rate_init`"),
        ({"learning_rate": float("nan")}, "`learning_rate_init`"),
        ({"alpha": -1.0}, "`alpha`"),
        ({"clip_norm": -1.0}, "`clip_norm`"),
        ({"beta1": 1.0}, "`beta1`"),
        ({"decay_mask": np.ones(3, bool)}, "`decay_mask`"),
    ],
)
def test_bad_optimizer_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Adam(7, **kwargs)


def test_bad_momentum():
    with pytest.raises(ValueError, match="`momentum`"):
        SGD(7, momentum=1.5)


@pytest.mark.parametrize("solver", ["adam", "sgd", "nesterov"])
def test_matches_torch_optim(solver):
    torch = pytest.importorskip("torch")
    theta, grads, mask = _problem()
    w = torch.nn.Parameter(torch.from_numpy(theta[mask].copy()))
    b = torch.nn.Parameter(torch.from_numpy(theta[~mask].copy()))
    groups = [{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}]
    if solver == "adam":
        topt = torch.optim.Adam(groups, lr=0.01)
        opt = Adam(7, learning_rate=0.01, alpha=0.1, decay_mask=mask, clip_norm=0.5)
    else:
        topt = torch.optim.SGD(groups, lr=0.05, momentum=0.9, nesterov=solver == "nesterov")
        opt = SGD(7, learning_rate=0.05, momentum=0.9, nesterov=solver == "nesterov", alpha=0.1,
                  decay_mask=mask, clip_norm=0.5)
    p = theta.copy()
    for g in grads:
        w.grad = torch.from_numpy(g[mask].copy())
        b.grad = torch.from_numpy(g[~mask].copy())
        torch.nn.utils.clip_grad_norm_([w, b], 0.5)
        topt.step()
        opt.step(p, g)
    np.testing.assert_allclose(p[mask], w.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(p[~mask], b.detach().numpy(), rtol=1e-12, atol=1e-14)
