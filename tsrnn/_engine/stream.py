"""Stateful networks over one continuous stream: truncated BPTT(k1, k2) training, and a
carried state advanced one reading at a time.

Training (Williams & Peng 1990, "An efficient gradient-based algorithm for on-line
training of recurrent network trajectories"): the stream of N steps is cut into B
contiguous substreams of ``L = N // B`` steps (the oldest ``N - B * L`` steps are
dropped), the B rows of every minibatch, each row carrying its own state from
segment to segment.  Every ``k1`` steps the network is run over the last ``k2 >= k1``
steps from the state it had ``k2`` steps back, the loss of the newest ``k1`` steps
(only they: older steps had theirs in earlier segments) is backpropagated to that
start and no further, and the optimizer takes one step.  The first segment of a
substream runs from its start and has a loss on all its (up to ``k2``) steps.

A segment's window of ``k2`` steps runs from a carried state, so the gradient is
truncated at its start exactly (the kernels' ``h0`` gets no gradient), and the loss
of its newest steps is picked out by per-step weights (``Batch.step_weight``: 0 on
the older steps and on steps without a target).  The state the next window starts
from, ``k1`` steps on, is computed by a forward pass with the weights the window ran
with, before the update.  The last state of every substream is kept
(:attr:`StreamTrainer.carry`): in the next epoch, substream ``b`` starts from the
state substream ``b - 1`` ended with, which is the state of the stream at that
point (with last epoch's weights) rather than a cold zero; substream 0 starts at
zero.  Segments are processed in time order (``shuffle`` does not apply), so a fit
needs no random numbers but its dropout masks.

Serving (:class:`CarriedState`): ``advance`` runs the new readings through the
network from the carried state in one kernel call, one recurrent step per reading,
and keeps the new state and the head's output at the last reading.

No pandas, no scikit-learn (see :mod:`tsrnn.streaming` for the forecaster).
"""

from __future__ import annotations

import math

import numpy as np

from tsrnn._engine import interrupts, sequences, threads
from tsrnn._engine.kernels.losses import CODES as LOSS_CODES
from tsrnn._engine.plan import Workspace
from tsrnn._engine.training import Trainer

__all__ = ["BLOCK", "CarriedState", "StreamTrainer", "schedule", "substreams"]

# Long runs of one row (validation, the state over a whole fitted stream, a large update)
# go through the kernels in blocks of this many steps, carrying the state: their scratch
# holds every step's state of a call, which for a stream of millions of steps would be
# gigabytes.
BLOCK = 4096


def substreams(n_steps, rows):
    """How a stream of ``n_steps`` is cut into ``rows`` contiguous substreams.

    Returns
    -------
    skip : int
        Oldest steps left out, so that every substream has the same length.
    length : int
        Steps per substream: substream ``b`` is steps ``skip + b * length`` to
        ``skip + (b + 1) * length - 1``.
    """
    length = n_steps // rows
    if length < 1:
        raise ValueError(f"A stream of {n_steps} steps cannot be cut into {rows} substreams "
                         "(`batch_size`); lower it.")
    return n_steps - rows * length, length


def schedule(length, k1, k2):
    """The segments of a substream of ``length`` steps, in order.

    Returns
    -------
    ndarray of int64 of shape (n_segments, 4)
        Row ``(a, p, e, nxt)``: the window is steps ``a .. e - 1``, run from the
        state before step ``a``; its loss is on steps ``p .. e - 1`` (all of the
        first window, the newest ``k1`` of the others, fewer in the last if
        ``length - k2`` is not a multiple of ``k1``); ``nxt`` is where the next
        window starts (``length`` for the last), up to which the state is carried.
    """
    if not 1 <= k1 <= k2:
        raise ValueError(f"Truncated BPTT needs 1 <= k1 <= k2, got k1={k1}, k2={k2}.")
    ends = [min(k2, length)]
    while ends[-1] < length:
        ends.append(min(ends[-1] + k1, length))
    rows = []
    for s, e in enumerate(ends):
        a = max(0, e - k2)
        p = 0 if s == 0 else ends[s - 1]
        nxt = max(0, ends[s + 1] - k2) if s + 1 < len(ends) else length
        rows.append((a, p, e, nxt))
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


class StreamTrainer(Trainer):
    """:class:`~tsrnn._engine.training.Trainer` whose epoch is one pass of truncated
    BPTT(k1, k2) over substreams (see the module docstring).

    Everything else is the Trainer's: the optimizer, the history, early stopping on
    validation data, divergence, interrupts, snapshots.  :meth:`run` takes ``X`` (B,
    L, C) and ``Y`` (B, L, K), the substreams' inputs and per-step targets in the
    network's dtype, and in place of sample weights ``W`` (B, L): each step's loss
    weight (0 where the target is missing).  ``validation`` is ``(X, Y, W)`` of shape
    (1, V, .): the steps right after the last substream, scored from the state it
    ended with (so no validation step is ever trained on, and no step is scored
    from a cold state).

    Parameters
    ----------
    net : Network
    config : TrainConfig
        ``return_sequences`` and ``shuffle`` are not read (every step has a loss;
        segments run in time order); ``batch_size`` is the number of substreams,
        set by the caller when it cuts the stream.
    k1, k2 : int
        Steps between updates; steps the gradient reaches back (``1 <= k1 <= k2``).

    Attributes
    ----------
    carry : tuple (h, c) or None
        Each substream's state after the last finished epoch, (num_layers, B,
        hidden_size) each (``c`` None but for an LSTM); None before the first.
    t : int
        Steps processed (each step of each substream once per epoch).
    """

    def __init__(self, net, config, k1, k2):
        super().__init__(net, config)
        schedule(k2, k1, k2)  # checks 1 <= k1 <= k2
        self.k1, self.k2 = int(k1), int(k2)
        self.carry = None

    def _start_state(self, B):
        """The state each substream starts an epoch from: zero for the first; for the
        others the state the previous one ended the last epoch with."""
        net = self.net
        shape = (net.num_layers, B, net.hidden_size)
        lstm = net.cell == "lstm"
        h = np.zeros(shape, net.dtype)
        c = np.zeros(shape, net.dtype) if lstm else None
        if self.carry is not None and self.carry[0].shape == shape:
            h[:, 1:] = self.carry[0][:, :-1]
            if lstm:
                c[:, 1:] = self.carry[1][:, :-1]
        return h, c

    def _epoch(self, X, Y, W, rng, groups, n_threads, lengths=None):  # noqa: ARG002
        cfg, net, work = self.config, self.net, self._workspace
        B, L, C = X.shape
        K = Y.shape[2]
        code = LOSS_CODES[cfg.loss]
        sw = np.ones(B, net.dtype)
        h, c = self._start_state(B)
        h_next, c_next = np.empty_like(h), None if c is None else np.empty_like(c)
        total = rows = 0.0
        for a, p, e, nxt in schedule(L, self.k1, self.k2):
            T = int(e - a)
            xb = work.get("stream_x", (B, T, C), net.dtype)
            yb = work.get("stream_y", (B, T, K), net.dtype)
            wb = work.get("stream_w", (B, T), net.dtype)
            np.copyto(xb, X[:, a:e])
            np.copyto(yb, Y[:, a:e])
            np.copyto(wb, W[:, a:e])
            wb[:, :p - a] = 0  # older steps had their loss in earlier segments
            weight = float(wb.sum(dtype=np.float64))
            grad = None
            if weight > 0:
                masks = self._dropout_masks(B, T, rng)
                loss, grad, _ = net._kernel_loss_grad(
                    xb, yb, sw, code, self._qs, cfg.huber_delta, True,
                    sequences.truncation(None, T), masks, n_threads=n_threads,
                    workspace=work, state=sequences.Batch(h0=h, c0=c, step_weight=wb))
                if not (math.isfinite(loss) and np.isfinite(grad).all()):
                    return math.nan
                if interrupts.requested(self._scope):
                    return None  # Ctrl-C: the epoch is abandoned before the update
            # the state the next window starts from, with the weights this one ran with
            if nxt > a:
                self._advance(X[:, a:nxt], h, c, h_next, c_next, n_threads)
                h, h_next = h_next, h
                c, c_next = c_next, c
            if grad is not None:
                self.optimizer.step(net.params, grad)
                total += loss * weight
                rows += weight
        self.carry = (h.copy(), None if c is None else c.copy())
        self.t += B * L
        if rows <= 0:
            raise ValueError("The stream has no step with an observed target to train on.")
        loss = total / rows
        if cfg.alpha:
            w = net.params[net.weight_mask].astype(np.float64)
            loss += 0.5 * cfg.alpha * float(w @ w)
        return loss

    def _advance(self, X, h, c, h_out, c_out, n_threads):
        """The state after ``X`` (B, m, C) from ``h``/``c``, into ``h_out``/``c_out``."""
        xs = self._workspace.get("stream_adv", X.shape, self.net.dtype)
        np.copyto(xs, X)
        self.net._kernel_predict(xs, False, n_threads, None, self._workspace,
                                 sequences.Batch(h0=h, c0=c, hN=h_out, cN=c_out))

    def evaluate(self, X, Y, W, groups=None, lengths=None, *, n_threads=1):  # noqa: ARG002
        """Mean loss on the validation steps ``X, Y, W`` (1, V, .), run from the state
        the last substream ended the epoch with, in blocks of :data:`BLOCK` steps."""
        cfg, net = self.config, self.net
        total = float(W.sum(dtype=np.float64))
        if total <= 0:
            return math.nan
        shape = (net.num_layers, 1, net.hidden_size)
        # copies: the blocks below write into these buffers in turn
        h = np.zeros(shape, net.dtype) if self.carry is None else self.carry[0][:, -1:].copy()
        c = None if net.cell != "lstm" else np.zeros(shape, net.dtype) \
            if self.carry is None else self.carry[1][:, -1:].copy()
        h_next, c_next = np.empty_like(h), None if c is None else np.empty_like(c)
        loss = 0.0
        for start in range(0, X.shape[1], BLOCK):
            part = slice(start, start + BLOCK)
            weight = float(W[:, part].sum(dtype=np.float64))
            state = sequences.Batch(h0=h, c0=c, hN=h_next, cN=c_next,
                                    step_weight=np.ascontiguousarray(W[:, part]))
            if weight > 0:
                loss += weight * net._kernel_loss(
                    np.ascontiguousarray(X[:, part]), np.ascontiguousarray(Y[:, part]),
                    np.ones(1, net.dtype), LOSS_CODES[cfg.loss], self._qs, cfg.huber_delta,
                    True, n_threads, None, self._workspace, state)
            else:
                net._kernel_predict(np.ascontiguousarray(X[:, part]), False, n_threads, None,
                                    self._workspace, state)
            h, h_next, c, c_next = h_next, h, c_next, c
        return loss / total


class CarriedState:
    """A network's state over a stream, advanced reading by reading.

    Parameters
    ----------
    net : Network
        The network (not copied; its weights are read at every call).

    Attributes
    ----------
    h, c : ndarray of shape (num_layers, 1, hidden_size)
        The state after the last reading (``c`` None but for an LSTM).
    output : ndarray of shape (output_size,)
        The head's output at the last reading (NaN before any).
    steps : int
        Readings the state has seen.
    """

    def __init__(self, net):
        self.net = net
        shape = (net.num_layers, 1, net.hidden_size)
        self.h = np.zeros(shape, net.dtype)
        self.c = np.zeros(shape, net.dtype) if net.cell == "lstm" else None
        self.output = np.full(net.output_size, np.nan, net.dtype)
        self.steps = 0
        self._workspace = Workspace()

    def advanced(self, X):
        """The state, output and step count after the readings ``X`` (m, C), as a new
        :class:`CarriedState` (this one is unchanged): one recurrent step per reading,
        in one kernel call per :data:`BLOCK` readings.

        Parameters
        ----------
        X : ndarray of shape (m, input_size)
            The network's inputs, finite, in its dtype.
        """
        net = self.net
        X = np.ascontiguousarray(X, dtype=net.dtype).reshape(1, -1, net.input_size)
        new = CarriedState.__new__(CarriedState)
        new.net, new._workspace = net, self._workspace
        new.output, new.steps = self.output, self.steps
        h, c = self.h, self.c
        with threads.blas_single_thread():
            for start in range(0, X.shape[1], BLOCK):
                h_out = np.empty_like(h)
                c_out = None if c is None else np.empty_like(c)
                out = net._kernel_predict(np.ascontiguousarray(X[:, start:start + BLOCK]),
                                          False, 1, None, self._workspace,
                                          sequences.Batch(h0=h, c0=c, hN=h_out, cN=c_out))
                h, c = h_out, c_out
                new.output = out[0, 0].copy()
        new.h, new.c = h, c
        new.steps = self.steps + X.shape[1]
        return new

    def __getstate__(self):
        # the scratch is rebuilt on first use; a pickle need not carry it
        state = dict(vars(self))
        state["_workspace"] = None
        return state

    def __setstate__(self, state):
        vars(self).update(state)
        self._workspace = Workspace()
