"""How much a network and its training take: batches cut into chunks, the scratch a fit
keeps, and memory plans checked against the budget before anything is allocated.

Below :mod:`tsrnn._engine.network`, which uses the chunk rules for every kernel call
and checks a network's plan when it is built; the estimators check a whole fit's plan
(:func:`check_plan`) before they build one.
"""

from __future__ import annotations

import math

import numpy as np

from tsrnn._engine.kernels import drivers as _k
from tsrnn._engine.static import state_rows as static_rows
from tsrnn._validation import check_allocation

# Deeper stacks do not train without residual connections; the bound keeps a typo such as
# num_layers=10**6 from building millions of layers for minutes before anything fails.
MAX_LAYERS = 100

# How a batch is cut into chunks.  The count depends only on the batch size,
# never on the thread count, so results do not depend on n_jobs.  A chunk's
# recurrent GEMMs have as many rows as it has samples, and OpenBLAS repacks the
# weight at every step: on one thread at H=256, chunks of 16/32/64/128 reach
# 55/70/79/66 % of GEMM peak.  With two threads, though, training was fastest
# with chunks of 16-32 (two threads' 64-sample states compete for cache), so
# training uses chunks of >= 16 samples, at most 8 of them (each keeps its own
# gradient buffer), while prediction, which keeps less state, uses chunks of
# about 64.  Any batch of 32 or more gets two chunks, so two threads share it.
# See benchmarks/RESULTS.md.
_MIN_CHUNK = 16
_PREDICT_CHUNK = 64
_MAX_TRAIN_CHUNKS = 8


def _n_chunks(n, target, cap):
    return max(1, min(cap, max(n // target, min(2, n // _MIN_CHUNK))))


def train_chunks(n):
    return _n_chunks(n, _MIN_CHUNK, _MAX_TRAIN_CHUNKS)


def predict_chunks(n):
    return _n_chunks(n, _PREDICT_CHUNK, n)


class Workspace:
    """Scratch buffers for kernel calls, kept and reused between calls.

    A trainer holds one for its fit, so that minibatch after minibatch runs
    without allocating; a buffer grows when a call needs more, and is never
    shared by two calls at once (each call owns the workspace it is given).
    """

    def __init__(self):
        self._flat = {}

    def get(self, name, shape, dtype):
        """A C-contiguous array of ``shape`` and ``dtype`` (contents undefined)."""
        # math.prod of Python ints: np.prod cost 14 us a call, 8 calls a minibatch, a fifth
        # of a small fit's time (an LSTM on 200 windows of 10 steps)
        size = math.prod(map(int, shape))
        flat = self._flat.get(name)
        if flat is None or flat.size < size or flat.dtype != dtype:
            flat = self._flat[name] = np.empty(max(size, 1), dtype)
        return flat[:size].reshape(shape)


def fresh(name, shape, dtype):  # noqa: ARG001 - the Workspace.get signature, no reuse
    return np.empty(shape, dtype)


def count_params(cell, input_size, hidden_size, num_layers, output_size, num_embeddings=0,
                 embedding_dim=0, static_size=0) -> int:
    """Length of the flat parameter vector of a layout (closed form, nothing built)."""
    # Python ints: NumPy integers (np.int64(2**62)) would overflow silently in the products
    input_size, hidden_size, num_layers, output_size, num_embeddings, embedding_dim, \
        static_size = map(int, (input_size, hidden_size, num_layers, output_size,
                                num_embeddings, embedding_dim, static_size))
    G = _k.N_GATES[cell] * hidden_size
    first = G * (input_size + embedding_dim + hidden_size + 2)
    rest = (num_layers - 1) * G * (2 * hidden_size + 2)
    init = static_rows(cell, num_layers, hidden_size) * (static_size + 1) if static_size else 0
    return first + rest + output_size * (hidden_size + 1) + num_embeddings * embedding_dim + \
        init


def plan_bytes(cell, input_size, hidden_size, num_layers, output_size, dtype, *,
               num_embeddings=0, embedding_dim=0, static_size=0, batch=0, steps=0, targets=1,
               seq=False, dropout=False, n_threads=1):
    """Bytes a network takes to build (``batch`` 0) or to train on minibatches of ``batch``
    windows of ``steps`` steps.

    Building: the parameters and their float64 initial draw.  Training adds what a
    :class:`~tsrnn._engine.training.Trainer` keeps per parameter (gradient, two
    snapshots, the optimizer's two moments, one gradient per chunk) and the threads'
    BPTT scratch, dropout masks (drawn in float64) and a gathered minibatch.
    """
    size = np.dtype(dtype).itemsize
    input_size, hidden_size, num_layers, output_size, batch, steps, targets = map(
        int, (input_size, hidden_size, num_layers, output_size, batch, steps, targets))
    n_params = count_params(cell, input_size, hidden_size, num_layers, output_size,
                            num_embeddings, embedding_dim, static_size)
    total = n_params * (size + 8)
    if batch:
        chunks = train_chunks(batch)
        m = -(-batch // chunks)
        C, H, G = input_size + embedding_dim, hidden_size, _k.N_GATES[cell] * hidden_size
        scratch = _k.scratch_size(m, steps, C, num_layers, H, G, output_size, targets, seq,
                                  dropout, True, num_embeddings > 0)
        masks = (num_layers - 1) * batch * steps * H * (size + 8) if dropout else 0
        total += (n_params * (5 + chunks) * size + min(n_threads, chunks) * scratch * size
                  + masks + batch * steps * (C + targets) * size)
    return total


def check_layers(num_layers):
    """Refuse a stack deeper than :data:`MAX_LAYERS` (before anything is built per layer)."""
    if num_layers > MAX_LAYERS:
        raise ValueError(f"`num_layers`={num_layers} must be <= {MAX_LAYERS}.")
    return num_layers


def check_plan(cell, input_size, hidden_size, num_layers, output_size, dtype, **training):
    """Refuse (ValueError naming the sizes) a network, or its training, beyond the
    memory budget (:func:`tsrnn._validation.memory_budget`); ``training`` as
    :func:`plan_bytes`.  ``num_layers`` is bounded by :data:`MAX_LAYERS` first."""
    check_layers(num_layers)
    n_params = count_params(cell, input_size, hidden_size, num_layers, output_size,
                            training.get("num_embeddings", 0), training.get("embedding_dim", 0),
                            training.get("static_size", 0))
    article = "A" if cell == "gru" else "An"
    what = (f"{article} {cell.upper()} network with `hidden_size`={hidden_size} and "
            f"`num_layers`={num_layers} ({n_params:,} parameters")
    if training.get("batch"):
        what += (f"), trained on minibatches of {training['batch']} windows of "
                 f"{training['steps']} steps,")
    else:
        what += ")"
    check_allocation(what, plan_bytes(cell, input_size, hidden_size, num_layers, output_size,
                                      dtype, **training))
