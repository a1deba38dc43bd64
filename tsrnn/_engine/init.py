"""Initial parameter values of a :class:`~tsrnn._engine.network.Network`, by scheme.

Drawn in float64 from the caller's generator (and cast by the network), in the
order of the flat vector, so that a seed gives the same start in float32 and
float64.
"""

from __future__ import annotations

import numpy as np

from tsrnn._engine.kernels import drivers as _k

INITS = ("pytorch", "orthogonal", "identity")

# Le, Jaitly & Hinton (2015), "A simple way to initialize recurrent networks of rectified
# linear units": identity recurrent weights, zero biases, input weights N(0, 0.001^2).
_IRNN_INPUT_STD = 1e-3


def initial_values(shapes, cell, init, hidden_size, rng):
    """Initial value of every parameter array, by name (see ``Network``'s ``init``).

    ``"pytorch"``: uniform in ``±1/sqrt(hidden_size)`` for the recurrent layers,
    ``torch.nn.Linear``'s rule for the head.  ``"orthogonal"``: Keras' scheme
    (Glorot-uniform input and head weights, orthogonal recurrent blocks, zero
    biases, LSTM forget-gate bias 1).  ``"identity"`` (Elman cell): identity
    recurrent weights, zero biases, input weights N(0, 0.001^2), Glorot head
    (the IRNN of Le et al. 2015, for ReLU networks on long sequences).  An
    embedding table starts at zero and draws nothing.
    """
    H = hidden_size
    G = _k.N_GATES[cell]
    values = {}
    for name, shape in shapes.items():
        fan_in = shape[1] if len(shape) == 2 else H
        if name.startswith("embedding."):
            # drawn from nothing, so that the weights (and every later draw of the
            # same generator, e.g. a trainer's shuffles) match a network without one
            values[name] = np.zeros(shape)
        elif init == "pytorch":
            bound = 1.0 / np.sqrt(H if name.startswith("rnn.") else fan_in)
            values[name] = rng.uniform(-bound, bound, size=shape)
        elif "bias" in name:
            values[name] = np.zeros(shape)
            if cell == "lstm" and "bias_ih" in name:
                values[name][H:2 * H] = 1.0
        elif "weight_hh" in name:
            if init == "identity":
                values[name] = np.eye(H)
                continue
            blocks = []
            for _ in range(G):
                q, r = np.linalg.qr(rng.normal(size=(H, H)))
                blocks.append(q * np.sign(np.diag(r)))
            values[name] = np.concatenate(blocks, axis=0)
        elif init == "identity" and name.startswith("rnn."):
            values[name] = rng.normal(scale=_IRNN_INPUT_STD, size=shape)
        else:
            fan_out = shape[0] // (G if name.startswith("rnn.") else 1)
            bound = np.sqrt(6.0 / (shape[1] + fan_out))
            values[name] = rng.uniform(-bound, bound, size=shape)
    return values
