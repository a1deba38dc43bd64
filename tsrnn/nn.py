"""The engine's public face: :class:`Network`, a recurrent stack plus a linear head.

``Network`` holds the parameters in PyTorch's layout, computes predictions,
and computes a loss with the gradient of every parameter by backpropagation
through time (Numba-compiled); it does not train (the estimators do).

Examples
--------
>>> import numpy as np
>>> from tsrnn.nn import Network
>>> net = Network("gru", input_size=2, hidden_size=8, random_state=0)
>>> X = np.random.default_rng(0).normal(size=(16, 10, 2))
>>> net.forward(X).shape
(16, 1)
>>> loss, grads = net.loss_grad(X, np.zeros(16))
>>> grads["rnn.weight_hh_l0"].shape
(24, 8)
"""

from tsrnn._engine.network import INITS, LOSSES, Network

__all__ = ["INITS", "LOSSES", "Network"]
