"""Fused in-place optimizer updates on the flat parameter vector.

One pass over the parameters per step (gradient clipping needs one more, for
the norm).  State arrays have the parameters' dtype; scalars are float64.
"""

import math

import numpy as np

from tsrnn._engine.jit import njit


@njit
def global_norm(grad):
    """Euclidean norm, accumulated in float64 in index order."""
    s = 0.0
    for k in range(grad.shape[0]):
        g = np.float64(grad[k])
        s += g * g
    return math.sqrt(s)


@njit
def clip_scale(grad, max_norm):
    """Factor that brings ``grad`` to norm ``max_norm`` (1 if already within, or no clipping)."""
    if max_norm <= 0:
        return 1.0
    # Same rule as torch.nn.utils.clip_grad_norm_.
    coef = max_norm / (global_norm(grad) + 1e-6)
    return coef if coef < 1.0 else 1.0


@njit
def adam_step(theta, grad, m, v, lr, beta1, beta2, eps, t, alpha, decay, max_norm):
    """One Adam step (PyTorch's form), in place.

    The loss gradient is clipped to global norm ``max_norm`` (<= 0: no
    clipping), then ``alpha * theta`` is added where ``decay`` is true (L2 on
    weights, not biases).
    """
    scale = clip_scale(grad, max_norm)
    bc1 = 1.0 - beta1 ** t
    bc2 = 1.0 - beta2 ** t
    for k in range(theta.shape[0]):
        g = grad[k] * scale
        if decay[k]:
            g += alpha * theta[k]
        mk = beta1 * m[k] + (1.0 - beta1) * g
        vk = beta2 * v[k] + (1.0 - beta2) * g * g
        m[k] = mk
        v[k] = vk
        theta[k] -= lr * (mk / bc1) / (math.sqrt(vk / bc2) + eps)


@njit
def sgd_step(theta, grad, buf, lr, momentum, nesterov, alpha, decay, max_norm):
    """One SGD step with (Nesterov) momentum (PyTorch's form), in place."""
    scale = clip_scale(grad, max_norm)
    for k in range(theta.shape[0]):
        g = grad[k] * scale
        if decay[k]:
            g += alpha * theta[k]
        if momentum > 0:
            b = momentum * buf[k] + g
            buf[k] = b
            g = g + momentum * b if nesterov else b
        theta[k] -= lr * g
