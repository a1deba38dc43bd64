"""Calls of the drivers' kernels for a :class:`~tsrnn._engine.network.Network`: the
argument tuple, the split of a batch's chunks over the thread pool, and variable-length
batches sorted by length around the call.
"""

from __future__ import annotations

import functools

import numpy as np

from tsrnn._engine import sequences, threads
from tsrnn._engine.kernels import drivers as _k

# Below this much work per step and thread (see Network._step_work) a call runs on one
# thread whatever n_jobs says: the pool's hand-off (about 10 us) then costs more than the
# second thread saves.  Measured on two cores (training and inference at batch 32, serial
# against pooled, every cell, H 16/64, T 24/96, C 1/8): only float32 Elman cells at hidden
# 16 (5-7 thousand multiply-add equivalents) ran faster on one thread (by 3-22 %); float32
# GRUs at hidden 16 (13-19 thousand) and everything in float64 gained 1-86 % on two.  The
# choice changes no result, only the time.
_POOL_MIN_WORK = 10_000
# A gate unit's elementwise work in multiply-add equivalents: float32 nonlinearities are
# vectorised rational approximations, float64 ones scalar libm calls (7.8 ns against 0.12 ns
# per element, benchmarks/RESULTS.md), so in float64 the gates cost more than the products.
_ELEMENTWISE_WORK = {np.dtype(np.float32): 4, np.dtype(np.float64): 64}


@functools.lru_cache(maxsize=None)
def no_training(dtype, seq):
    """The training arguments of a prediction: empty arrays of the training types, so
    that predicting and training share one compiled kernel per cell and dtype."""
    return (np.empty((0, 1, 1), dtype), np.empty(0, dtype), np.empty((0, 0, 0, 0), dtype),
            bool(seq), 1, 0, np.empty(0, dtype), 1.0, 1.0, np.empty((0, 0), dtype),
            np.empty(0, np.float64), np.empty((0, 1, 1), dtype), np.empty(0, dtype))


_NO_SIGNAL = (np.empty(0, np.int64), 0, 0)


def no_output(dtype):
    return np.empty((0, 1, 1), dtype)


def run(net, X, groups, chunks, n_threads, work, mode, train, out,
         state=sequences.NO_BATCH):
    """Run the network's cell kernel over the ``chunks`` of batch ``X`` on ``n_threads``.

    ``work`` (threads, size) is the scratch; ``mode`` the drivers' PREDICT
    (into ``out``) or TRAIN; ``train`` the training arguments ``(Y, sw,
    masks, seq, trunc, code, qs, delta, scale, gbuf, lbuf, dX, grad)``
    (:func:`no_training` for a prediction); ``state`` the lengths, initial
    and final states, state gradients and step weights
    (:class:`~tsrnn._engine.sequences.Batch`).  Returns the loss sum.
    """
    E = net.embedding
    if groups is None:
        groups = np.empty(0, np.int64)
    order = sequences.bucket_order(state.lengths)
    if order is not None:
        return run_sorted(net, order, X, groups, chunks, n_threads, work, mode, train, out,
                                state)
    (Y, sw, masks, seq, trunc, code, qs, delta, scale, gbuf, lbuf, dX, grad) = train
    kernel = _k.RUN[net.cell]
    state_args = state.args(net.dtype)
    relu = net.activation == "relu"
    k = min(n_threads, chunks)
    if k > 1 and step_work(net, -(-X.shape[0] // k)) < _POOL_MIN_WORK:
        k = 1  # too little work per step for a second thread to pay for its hand-off

    def launch(kmode, j, c0, c1, signal):
        flags, value, n_wait = _NO_SIGNAL if signal is None else signal
        return kernel((X, E, groups, Y, sw, net.params, net._offs, net.num_layers,
                       net.hidden_size, relu, masks, seq, trunc, code, qs, delta, scale,
                       chunks, c0, c1, work[j], gbuf, lbuf, dX, grad, out, kmode, flags,
                       value, n_wait) + state_args)

    summed = [False, 0.0]  # whether the chunks' gradients were added up, and the loss

    def run(j, c0, c1, signal):
        # the caller's range sums the chunks: after its own chunks when it has all of
        # them, or after waiting (inside its kernel) for the pool's workers
        n_wait = 0 if signal is None else signal[2]
        sums = mode == _k.TRAIN and j == 0 and (n_wait > 0 or (c0 == 0 and c1 == chunks))
        total, waited = launch(_k.TRAIN_REDUCE if sums else mode, j, c0, c1, signal)
        if sums and waited:
            summed[:] = [True, total]
        return waited and n_wait > 0

    if k == 1:
        run(0, 0, chunks, None)
    else:
        threads.run_ranges(chunks, k, run)
    if mode == _k.TRAIN and not summed[0]:  # the workers took long: the pool waited
        summed[1] = launch(_k.REDUCE, 0, 0, 0, None)[0]
    return summed[1]

def run_sorted(net, order, X, groups, chunks, n_threads, work, mode, train, out, state):
    """:meth:`_run` on the batch sorted by length (``order``), so that each chunk runs
    about as many steps as its sequences have; outputs are put back in the caller's
    order.  The loss and gradient are sums over the same samples in another order."""
    (Y, sw, masks, *rest, dX, grad) = train
    if mode == _k.PREDICT:
        train_s = train
    else:
        masks_s = np.ascontiguousarray(masks[:, order]) if masks.shape[0] else masks
        train_s = (np.ascontiguousarray(Y[order]), np.ascontiguousarray(sw[order]),
                   masks_s, *rest, np.empty_like(dX), grad)
    out_s = np.empty_like(out)
    state_s = state.take(order)
    total = run(net, np.ascontiguousarray(X[order]),
                      groups[order] if groups.shape[0] else groups, chunks, n_threads, work,
                      mode, train_s, out_s, state_s)
    if out.shape[0]:
        out[order] = out_s
    if mode != _k.PREDICT and dX.shape[0]:
        dX[order] = train_s[-2]
    state.put(state_s, order)
    return total

def step_work(net, rows):
    """Work of one step of the first layer for ``rows`` samples, in multiply-adds: the
    recurrent and input projections plus the gates' elementwise work (what a thread's
    share of a call costs per step)."""
    G = _k.N_GATES[net.cell] * net.hidden_size
    return rows * G * (net.input_size + net.embedding_dim + net.hidden_size
                       + _ELEMENTWISE_WORK[net.params.dtype])

