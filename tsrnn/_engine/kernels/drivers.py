"""The network drivers: a stack of recurrent layers plus a linear head, over batch chunks.

Every cell gets its own entry points (``lstm_loss_grad``, ``lstm_predict``,
...), built by :func:`_drivers` from the cell's layer functions, so that Numba
compiles only the cell in use.  The argument legend of the entry points is in
:mod:`tsrnn._engine.kernels`.

A batch is cut into ``n_chunks`` contiguous chunks of samples (chunk ``c``
holds samples ``c * n // n_chunks`` up to ``(c + 1) * n // n_chunks``); a call
processes chunks ``c0 .. c1 - 1`` one after the other, in the scratch buffer
``work`` it is given, writing chunk c's loss sum and gradient to ``lbuf[c]``
and ``gbuf[c]``.  The caller runs disjoint chunk ranges on different threads
(``tsrnn._engine.threads``), each with its own scratch, and the chunks'
results are then added in chunk order.  The chunking depends only on the
batch, never on the thread count, so results are bitwise identical for any
number of threads.

Inside a chunk everything is time-major, (T, m, ...), so that each step's
slice is contiguous: the input projection of all steps is one GEMM, each
step's recurrent projection one GEMM for all gates, and each weight gradient
one GEMM over all steps.  The scratch is carved into those buffers at every
call (no allocation); only the pieces whose stale contents would be read are
zeroed.
"""

import numpy as np

from tsrnn._engine.jit import atomic_store, njit
from tsrnn._engine.kernels import gru, lstm, rnn
from tsrnn._engine.kernels.common import input_weight_grad
from tsrnn._engine.kernels.losses import loss_rows
from tsrnn._engine.kernels.sync import wait_until

# Gates per hidden unit, and whether the recurrent-side gate gradient differs from the
# input side (the GRU's reset gate multiplies only the recurrent candidate term).
CELLS = {"rnn": (1, False), "lstm": (4, False), "gru": (3, True)}
N_GATES = {cell: g for cell, (g, _) in CELLS.items()}
_ALIGN = 16  # scratch pieces start on multiples of 16 elements (64 bytes in float32)
# What an entry point's call does: forward and head only (into ``out``); forward, loss and
# BPTT of its chunks; the same and then the chunk-order sum of all chunks (one thread);
# only that sum (after threads ran the chunks).
PREDICT, TRAIN, TRAIN_REDUCE, REDUCE = 0, 1, 2, 3
# How long the caller's kernel waits for the pool's workers before it hands the waiting back
# to Python (which blocks): about 1.5 ms (see threads.py's spin budgets).
WAIT_SPINS = 100_000


def scratch_size(m, T, C, L, H, G, O, K, seq, dropout, train, want_dx):
    """Elements of scratch one thread needs for chunks of up to ``m`` samples.

    ``C`` counts every input channel of the first layer (embedding included),
    ``G`` the gate rows (gates x H), ``O``/``K`` the head outputs and targets
    per row.  Must list the pieces in the order :func:`_carve_forward` and
    :func:`_carve_backward` take them.
    """
    R = T * m if seq else m
    sizes = [T * m * C, (L - 1) * T * m * H if dropout else 0, L * T * m * G,
             L * (T + 1) * m * H, L * (T + 1) * m * H, L * T * m * H, m * G, R * O]
    if train:
        sizes += [R * K, R, R * O, T * m * H, T * m * G, T * m * G, m * H, m * H, m * H,
                  T * m * C if want_dx else 0]
    total = 0
    for s in sizes:
        total += -(-s // _ALIGN) * _ALIGN
    return total


@njit(cache=False)
def _end(pos, size):
    """The scratch position after a piece of ``size`` elements that starts at ``pos``."""
    return pos + -(-size // _ALIGN) * _ALIGN


# One function per rank, so that Numba generates the reshape code once per rank, not at
# every piece (its reshape is emitted inline, and the carving was seconds of compile time).
@njit(cache=False)
def _piece2(work, pos, d0, d1):
    """The (d0, d1) piece of ``work`` at ``pos``, and the position after it."""
    return work[pos:pos + d0 * d1].reshape((d0, d1)), _end(pos, d0 * d1)


@njit(cache=False)
def _piece3(work, pos, d0, d1, d2):
    return work[pos:pos + d0 * d1 * d2].reshape((d0, d1, d2)), _end(pos, d0 * d1 * d2)


@njit(cache=False)
def _piece4(work, pos, d0, d1, d2, d3):
    size = d0 * d1 * d2 * d3
    return work[pos:pos + size].reshape((d0, d1, d2, d3)), _end(pos, size)


@njit(cache=False)
def _carve_forward(work, m, T, C, L, H, G, O, seq, dropout):
    R = T * m if seq else m
    xin0, p = _piece3(work, np.intp(0), T, m, C)  # an intp, not a literal 0: one compile
    xdrop, p = _piece4(work, p, L - 1 if dropout else 0, T, m, H)
    gates, p = _piece4(work, p, L, T, m, G)
    hs, p = _piece4(work, p, L, T + 1, m, H)
    cs, p = _piece4(work, p, L, T + 1, m, H)
    aux, p = _piece4(work, p, L, T, m, H)
    gh, p = _piece2(work, p, m, G)
    P, p = _piece2(work, p, R, O)
    return xin0, xdrop, gates, hs, cs, aux, gh, P, p


@njit(cache=False)
def _carve_backward(work, p, m, T, C, H, G, O, K, seq, want_dx):
    R = T * m if seq else m
    Yr, p = _piece2(work, p, R, K)
    wr, p = work[p:p + R], _end(p, R)
    dP, p = _piece2(work, p, R, O)
    dh, p = _piece3(work, p, T, m, H)
    dgx, p = _piece3(work, p, T, m, G)
    dgh, p = _piece3(work, p, T, m, G)
    dhn, p = _piece2(work, p, m, H)
    dcn, p = _piece2(work, p, m, H)
    dtmp, p = _piece2(work, p, m, H)
    dx0, p = _piece2(work, p, T * m if want_dx else 0, C)
    return Yr, wr, dP, dh, dgx, dgh, dhn, dcn, dtmp, dx0


@njit(cache=False)
def _matrix(theta, offs, k, cols):
    """View of parameter array k as a matrix with ``cols`` columns."""
    size = offs[k + 1] - offs[k]
    return theta[offs[k]:offs[k + 1]].reshape(size // cols, cols)


@njit(cache=False)
def _vector(theta, offs, k):
    return theta[offs[k]:offs[k + 1]]


@njit(cache=False)
def _colsum(A, out):
    out[:] = 0
    for r in range(A.shape[0]):
        for j in range(A.shape[1]):
            out[j] += A[r, j]


@njit(cache=False)
def _bounds(n, n_chunks, c):
    return c * n // n_chunks, (c + 1) * n // n_chunks


@njit(cache=False)
def _fill_input(X, E, groups, a, xin0):
    """Samples a:a+m of ``X`` time-major, each followed by its group's embedding row."""
    T, m, _ = xin0.shape
    C, D = X.shape[2], E.shape[1]
    for t in range(T):
        for i in range(m):
            for c in range(C):
                xin0[t, i, c] = X[a + i, t, c]
    if D:
        for t in range(T):
            for i in range(m):
                row = E[groups[a + i]]
                for d in range(D):
                    xin0[t, i, C + d] = row[d]


@njit(cache=False)
def _chunk_steps(lens, a, b, T):
    """Steps chunk a:b runs: T, or its longest sequence's length (``lens`` non-empty)."""
    if lens.shape[0] == 0:
        return T
    longest = 0
    for i in range(a, b):
        longest = max(longest, lens[i])
    return longest


@njit(cache=False)
def _initial_state(states, init, a):
    """``states[:, 0]`` (the state before the first step) of samples a:a+m: ``init[:, a:]``,
    or zero when ``init`` is empty."""
    m = states.shape[2]
    for layer in range(states.shape[0]):
        for i in range(m):
            for j in range(states.shape[3]):
                states[layer, 0, i, j] = init[layer, a + i, j] if init.shape[0] else 0


@njit(cache=False)
def _final_state(states, out, a):
    """``out[:, a:a+m]`` = the state after the chunk's last step (each sequence's own last
    step: finished sequences are held); nothing when ``out`` is empty."""
    if out.shape[0] == 0:
        return
    T1, m = states.shape[1], states.shape[2]
    for layer in range(states.shape[0]):
        for i in range(m):
            for j in range(states.shape[3]):
                out[layer, a + i, j] = states[layer, T1 - 1, i, j]


@njit(cache=False)
def _start_carry(carry, given, layer, a):
    """The gradient carried into a layer's last step from outside: rows a:a+m of
    ``given[layer]`` (the gradient of the final state), or zero when ``given`` is empty."""
    if given.shape[0] == 0:
        carry[:] = 0
        return
    for i in range(carry.shape[0]):
        for j in range(carry.shape[1]):
            carry[i, j] = given[layer, a + i, j]


@njit(cache=False)
def _layer_input(layer, xin0, xdrop, hs):
    """The (T*m, D) input of ``layer``: the data, or the layer below's states (after
    dropout when there is dropout)."""
    T, m = xin0.shape[0], xin0.shape[1]
    if layer == 0:
        return xin0.reshape(T * m, xin0.shape[2])
    H = hs.shape[3]
    if xdrop.shape[0] > 0:
        return xdrop[layer - 1].reshape(T * m, H)
    return hs[layer - 1, 1:].reshape(T * m, H)


@njit(cache=False)
def _drop_out(layer, xdrop, hs, masks, a):
    """Fill the dropout buffer of ``layer``'s input: the layer below's states times the mask."""
    if layer == 0 or xdrop.shape[0] == 0:
        return
    d = xdrop[layer - 1]
    T, m, H = d.shape
    for t in range(T):
        for i in range(m):
            for j in range(H):
                d[t, i, j] = hs[layer - 1, t + 1, i, j] * masks[layer - 1, a + i, t, j]


@njit(cache=False)
def _head_rows(hs, seq):
    """The head's input rows: every step's top-layer state (T*m, H) in time-major order,
    or the last step's (m, H)."""
    top = hs[hs.shape[0] - 1]
    T1, m, H = top.shape
    return top[1:].reshape((T1 - 1) * m, H) if seq else top[T1 - 1]


@njit(cache=False)
def _head(theta, offs, L, H, hs, seq, P):
    """The head's outputs ``P = rows @ W^T + b`` (see :func:`_head_rows`)."""
    rows = _head_rows(hs, seq)
    w_head = _matrix(theta, offs, 4 * L, H)
    b_head = _vector(theta, offs, 4 * L + 1)
    np.dot(rows, w_head.T, P)
    for r in range(P.shape[0]):
        for o in range(P.shape[1]):
            P[r, o] += b_head[o]


def _drivers(forward, backward, separate_dgh):
    """The entry points' bodies for one cell, given its layer functions (see
    :mod:`tsrnn._engine.kernels` for the calling convention)."""

    @njit(inline=True)
    def forward_chunk(X, E, groups, a, b, theta, offs, L, H, relu, masks, work, O, seq, lens,
                      h0, c0):
        """Forward pass of samples a:b through all layers, keeping every state; returns
        the buffers and the scratch position after them."""
        m = b - a
        T, C = _chunk_steps(lens, a, b, X.shape[1]), X.shape[2] + E.shape[1]
        G = (offs[1] - offs[0]) // C
        dropout = masks.shape[0] > 0
        xin0, xdrop, gates, hs, cs, aux, gh, P, p = _carve_forward(work, m, T, C, L, H, G, O,
                                                                   seq, dropout)
        _fill_input(X, E, groups, a, xin0)
        _initial_state(hs, h0, a)
        _initial_state(cs, c0, a)
        ln = lens[a:b]
        warm = h0.shape[0] > 0
        for layer in range(L):
            _drop_out(layer, xdrop, hs, masks, a)
            xin = _layer_input(layer, xin0, xdrop, hs)
            k = 4 * layer
            forward(xin, _matrix(theta, offs, k, xin.shape[1]), _matrix(theta, offs, k + 1, H),
                    _vector(theta, offs, k + 2), _vector(theta, offs, k + 3),
                    gates[layer], hs[layer], cs[layer], aux[layer], gh, relu, ln, warm)
        return xin0, xdrop, gates, hs, cs, aux, P, p

    @njit(inline=True)
    def chunk_loss_grad(X, Y, sw, a, b, theta, offs, L, H, relu, masks, seq, trunc, code, qs,
                        delta, scale, work, grad, dX, xin0, xdrop, gates, hs, cs, aux, P, p,
                        state):
        """Loss and BPTT for samples a:b after their forward pass (its buffers, and ``p``
        the scratch position after them); ``state`` is (lengths, step weights, and the
        initial state's gradient outputs).  Returns the chunk's weighted loss sum."""
        # one tuple: a call with more than 30 arguments compiles to a star-args call,
        # which Numba cannot inline
        lens, stepw, dh0, dc0, ghN, gcN = state
        m = b - a
        T = xin0.shape[0]  # the chunk's steps (see _chunk_steps)
        ln = lens[a:b]
        to_h0 = dh0.shape[0] > 0
        O = P.shape[1]
        K = Y.shape[2]
        want_dx = dX.shape[0] > 0
        C = xin0.shape[2]
        G = gates.shape[3]
        Yr, wr, dP, dh, dgx, dgh_buf, dhn, dcn, dtmp, dx0 = _carve_backward(
            work, p, m, T, C, H, G, O, K, seq, want_dx)
        dgh = dgh_buf if separate_dgh else dgx
        kh = 4 * L
        w_head = _matrix(theta, offs, kh, H)
        hin = _head_rows(hs, seq)
        R = P.shape[0]
        for r in range(R):
            i = r % m
            t = r // m  # the step of a row of a sequence's outputs (0 for many-to-one)
            wr[r] = sw[a + i]
            if stepw.shape[0]:
                wr[r] *= stepw[a + i, t]
            if seq and ln.shape[0] and t >= ln[i]:
                wr[r] = 0  # past the sequence's end: no loss, no gradient
            for k in range(K):
                Yr[r, k] = Y[a + i, t, k]
        part = loss_rows(P, Yr, wr, code, qs, delta, scale, dP)

        np.dot(dP.T, hin, _matrix(grad, offs, kh, H))
        _colsum(dP, _vector(grad, offs, kh + 1))
        dh[:] = 0
        if seq:
            np.dot(dP, w_head, dh.reshape(T * m, H))
        else:
            np.dot(dP, w_head, dh[T - 1])
            for i in range(ln.shape[0]):
                # the head read the state held since the sequence's last real step
                if ln[i] < T:
                    for j in range(H):
                        dh[ln[i] - 1, i, j] = dh[T - 1, i, j]
                        dh[T - 1, i, j] = 0
        for layer in range(L - 1, -1, -1):
            k = 4 * layer
            xin = _layer_input(layer, xin0, xdrop, hs)
            w_ih = _matrix(theta, offs, k, xin.shape[1])
            _start_carry(dhn, ghN, layer, a)
            _start_carry(dcn, gcN, layer, a)
            backward(dh, _matrix(theta, offs, k + 1, H), gates[layer], hs[layer], cs[layer],
                     aux[layer], dgx, dgh, dhn, dcn, dtmp, trunc, relu, ln, to_h0)
            if to_h0:  # the gradient of the state entering step 0
                for i in range(m):
                    for j in range(H):
                        dh0[layer, a + i, j] = dhn[i, j]
                        if dc0.shape[0]:
                            dc0[layer, a + i, j] = dcn[i, j]
            dgx2 = dgx.reshape(T * m, G)
            dgh2 = dgh.reshape(T * m, G)
            input_weight_grad(dgx2, xin, _matrix(grad, offs, k, xin.shape[1]))
            np.dot(dgh2.T, hs[layer, :T].reshape(T * m, H), _matrix(grad, offs, k + 1, H))
            _colsum(dgx2, _vector(grad, offs, k + 2))
            _colsum(dgh2, _vector(grad, offs, k + 3))
            if layer > 0:
                np.dot(dgx2, w_ih, dh.reshape(T * m, H))
                if masks.shape[0] > 0:
                    for t in range(T):
                        for i in range(m):
                            for j in range(H):
                                dh[t, i, j] *= masks[layer - 1, a + i, t, j]
            elif want_dx:
                np.dot(dgx2, w_ih, dx0)
                for t in range(T):
                    for i in range(m):
                        for c in range(C):
                            dX[a + i, t, c] = dx0[t * m + i, c]
                for t in range(T, dX.shape[1]):  # steps past the chunk's longest sequence
                    for i in range(m):
                        for c in range(C):
                            dX[a + i, t, c] = 0
        return part

    @njit(inline=True)
    def run(args):
        (X, E, groups, Y, sw, theta, offs, L, H, relu, masks, seq, trunc, code, qs, delta,
         scale, n_chunks, c0, c1, work, gbuf, lbuf, dX, grad, out, mode, sync, sync_value,
         n_wait, lens, h0, c0_, hN, cN, dh0, dc0, stepw, ghN, gcN) = args
        if sync.shape[0]:  # set the pool's workers going, now that the GIL is released
            atomic_store(sync, 0, sync_value)
        n = X.shape[0]
        O = offs[4 * L + 2] - offs[4 * L + 1]  # the head bias
        for c in range(c0, c1 if mode != REDUCE else c0):
            a, b = _bounds(n, n_chunks, c)
            xin0, xdrop, gates, hs, cs, aux, P, p = forward_chunk(
                X, E, groups, a, b, theta, offs, L, H, relu, masks, work, O, seq, lens, h0, c0_)
            _final_state(hs, hN, a)
            _final_state(cs, cN, a)
            _head(theta, offs, L, H, hs, seq, P)
            if mode == PREDICT:
                m = b - a
                for r in range(P.shape[0]):
                    for o in range(O):
                        out[a + r % m, r // m, o] = P[r, o]
            else:
                lbuf[c] = chunk_loss_grad(X, Y, sw, a, b, theta, offs, L, H, relu, masks, seq,
                                          trunc, code, qs, delta, scale, work, gbuf[c], dX,
                                          xin0, xdrop, gates, hs, cs, aux, P, p,
                                          (lens, stepw, dh0, dc0, ghN, gcN))
        for w in range(n_wait):  # the pool's workers, waited for without the GIL
            if not wait_until(sync, 1 + w, sync_value, WAIT_SPINS):
                return 0.0, False
        if mode < TRAIN_REDUCE:
            return 0.0, True
        # the chunks' results added in chunk order (fixed, whatever the threads)
        loss = 0.0
        for k in range(grad.shape[0]):
            grad[k] = gbuf[0, k]
        for c in range(lbuf.shape[0]):
            loss += lbuf[c]
            if c > 0:
                for k in range(grad.shape[0]):
                    grad[k] += gbuf[c, k]
        return loss, True

    return run


_rnn = _drivers(rnn.forward, rnn.backward, CELLS["rnn"][1])
_lstm = _drivers(lstm.forward, lstm.backward, CELLS["lstm"][1])
_gru = _drivers(gru.forward, gru.backward, CELLS["gru"][1])


# The cached entry points, one per cell, for training and prediction alike (one compile per
# cell and dtype); each takes one tuple of the arguments listed in tsrnn._engine.kernels
# (cheaper to compile than a star-args wrapper, as cheap to call).
@njit
def rnn_run(args):
    return _rnn(args)


@njit
def lstm_run(args):
    return _lstm(args)


@njit
def gru_run(args):
    return _gru(args)


RUN = {"rnn": rnn_run, "lstm": lstm_run, "gru": gru_run}
