"""Optimizers on a flat parameter vector: Adam and SGD (momentum, Nesterov).

They know nothing about the model: ``step(params, grad)`` updates ``params``
in place.  Each supports an L2 penalty ``alpha`` (gradient ``alpha * w`` on the
entries where ``decay_mask`` is true, i.e. weights, not biases — the penalty
``0.5 * alpha * ||W||^2`` added to the mean loss) and clipping of the loss
gradient by its global norm before the penalty is added (PyTorch's order:
``clip_grad_norm_`` then the optimizer's weight decay).
"""

from __future__ import annotations

import numpy as np

from tsrnn._engine.kernels import optim as _k
from tsrnn._validation import check_float


def clip_grad_norm(grad, max_norm):
    """Return ``(clipped, total_norm)``: ``grad`` rescaled to norm ``max_norm`` if larger.

    Parameters
    ----------
    grad : ndarray of shape (n_params,)
        Flat gradient; not modified.
    max_norm : float
        Largest allowed Euclidean norm.

    Returns
    -------
    clipped : ndarray
        A copy of ``grad``, scaled by ``max_norm / (norm + 1e-6)`` when the norm exceeds it.
    total_norm : float
        Norm of ``grad`` before clipping.
    """
    grad = np.ascontiguousarray(grad)
    max_norm = check_float("max_norm", max_norm, low=0, low_open=True)
    scale = _k.clip_scale(grad, max_norm)
    return (grad * grad.dtype.type(scale)), _k.global_norm(grad)


class _Optimizer:
    def __init__(self, n_params, *, learning_rate, alpha, decay_mask, clip_norm):
        self.learning_rate = check_float("learning_rate_init", learning_rate, low=0, low_open=True)
        self.alpha = check_float("alpha", alpha, low=0)
        self.clip_norm = (
            None if clip_norm is None else check_float("clip_norm", clip_norm, low=0, low_open=True)
        )
        self.decay_mask = (
            np.zeros(n_params, bool) if decay_mask is None else np.asarray(decay_mask, bool)
        )
        if self.decay_mask.shape != (n_params,):
            raise ValueError(
                f"`decay_mask` must have shape ({n_params},), got {self.decay_mask.shape}."
            )

    @property
    def _max_norm(self):
        return -1.0 if self.clip_norm is None else self.clip_norm


class Adam(_Optimizer):
    """Adam (Kingma & Ba), PyTorch's update rule.

    Parameters
    ----------
    n_params : int
        Length of the flat parameter vector.
    learning_rate : float, default=1e-3
    beta1, beta2 : float, default=0.9, 0.999
    epsilon : float, default=1e-8
    alpha : float, default=0
        L2 penalty on the entries where ``decay_mask`` is true.
    decay_mask : array of bool, optional
    clip_norm : float, optional
        Clip the loss gradient to this global norm.
    dtype : numpy dtype, default=float64
        dtype of the moment estimates (that of the parameters).
    """

    def __init__(self, n_params, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 alpha=0.0, decay_mask=None, clip_norm=None, dtype=np.float64):
        super().__init__(n_params, learning_rate=learning_rate, alpha=alpha,
                         decay_mask=decay_mask, clip_norm=clip_norm)
        self.beta1 = check_float("beta1", beta1, low=0, high=1, high_open=True)
        self.beta2 = check_float("beta2", beta2, low=0, high=1, high_open=True)
        self.epsilon = check_float("epsilon", epsilon, low=0, low_open=True)
        self.m = np.zeros(n_params, dtype)
        self.v = np.zeros(n_params, dtype)
        self.t = 0

    def step(self, params, grad):
        """Update ``params`` in place from the loss gradient ``grad``."""
        self.t += 1
        _k.adam_step(params, grad, self.m, self.v, self.learning_rate, self.beta1, self.beta2,
                     self.epsilon, self.t, self.alpha, self.decay_mask, self._max_norm)


class SGD(_Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, PyTorch's rule.

    Parameters
    ----------
    n_params : int
    learning_rate : float, default=1e-2
    momentum : float, default=0.9
    nesterov : bool, default=True
    alpha, decay_mask, clip_norm, dtype
        As for :class:`Adam`.
    """

    def __init__(self, n_params, learning_rate=1e-2, momentum=0.9, nesterov=True, alpha=0.0,
                 decay_mask=None, clip_norm=None, dtype=np.float64):
        super().__init__(n_params, learning_rate=learning_rate, alpha=alpha,
                         decay_mask=decay_mask, clip_norm=clip_norm)
        self.momentum = check_float("momentum", momentum, low=0, high=1)
        self.nesterov = bool(nesterov)
        self.buf = np.zeros(n_params, dtype)
        self.t = 0

    def step(self, params, grad):
        """Update ``params`` in place from the loss gradient ``grad``."""
        self.t += 1
        _k.sgd_step(params, grad, self.buf, self.learning_rate, self.momentum, self.nesterov,
                    self.alpha, self.decay_mask, self._max_norm)
