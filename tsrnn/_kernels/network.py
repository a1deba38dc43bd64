"""The network driver: a stack of recurrent layers plus a linear head.

Parameters live in one flat vector ``theta``, in PyTorch's state-dict order:
for each layer ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``, then
``head.weight`` and ``head.bias``.  ``offs[k]`` is where array k starts
(``offs[-1]`` is the total size).

A batch is split into ``n_chunks`` contiguous chunks of samples; each chunk
runs forward, loss and BPTT into its own gradient buffer, and the buffers are
added in chunk order afterwards.  The chunking depends only on the batch (the
caller picks ``n_chunks``), never on the thread count, so the serial and the
parallel drivers give bitwise identical results.

Inside a chunk everything is time-major, (T, m, ...), so that each step's
slice is contiguous: the input projection of all steps is one GEMM, each
step's recurrent projection one GEMM for all gates, and each weight gradient
one GEMM over all steps.
"""

import numpy as np

from tsrnn._jit import njit, prange
from tsrnn._kernels import gru, lstm, rnn
from tsrnn._kernels._math import input_weight_grad
from tsrnn._kernels.losses import loss_rows

RNN, LSTM, GRU = 0, 1, 2
CELL_CODES = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


@njit
def _layer_forward(cell, xin, w_ih, w_hh, b_ih, b_hh, gates, hs, cs, aux, gh, relu):
    if cell == LSTM:
        lstm.forward(xin, w_ih, w_hh, b_ih, b_hh, gates, hs, cs, aux, gh, relu)
    elif cell == GRU:
        gru.forward(xin, w_ih, w_hh, b_ih, b_hh, gates, hs, cs, aux, gh, relu)
    else:
        rnn.forward(xin, w_ih, w_hh, b_ih, b_hh, gates, hs, cs, aux, gh, relu)


@njit
def _layer_backward(cell, dh, w_hh, gates, hs, cs, aux, dgx, dgh, dhn, dcn, dtmp, trunc, relu):
    if cell == LSTM:
        lstm.backward(dh, w_hh, gates, hs, cs, aux, dgx, dgh, dhn, dcn, dtmp, trunc, relu)
    elif cell == GRU:
        gru.backward(dh, w_hh, gates, hs, cs, aux, dgx, dgh, dhn, dcn, dtmp, trunc, relu)
    else:
        rnn.backward(dh, w_hh, gates, hs, cs, aux, dgx, dgh, dhn, dcn, dtmp, trunc, relu)


@njit
def _matrix(theta, offs, k, cols):
    """View of parameter array k as a matrix with ``cols`` columns."""
    size = offs[k + 1] - offs[k]
    return theta[offs[k]:offs[k + 1]].reshape(size // cols, cols)


@njit
def _vector(theta, offs, k):
    return theta[offs[k]:offs[k + 1]]


@njit
def _colsum(A, out):
    out[:] = 0
    for r in range(A.shape[0]):
        for j in range(A.shape[1]):
            out[j] += A[r, j]


@njit
def _forward_chunk(cell, relu, X, a, b, theta, offs, L, H, masks):
    """Forward pass of samples a:b through all layers, keeping every state.

    Returns the time-major buffers (xin0, xdrop, gates, hs, cs, aux).
    """
    m = b - a
    T, C = X.shape[1], X.shape[2]
    G = (offs[1] - offs[0]) // C
    dt = theta.dtype
    xin0 = np.empty((T, m, C), dt)
    for t in range(T):
        for i in range(m):
            for c in range(C):
                xin0[t, i, c] = X[a + i, t, c]
    dropout = masks.shape[0] > 0
    xdrop = np.empty((L - 1 if dropout else 0, T, m, H), dt)
    gates = np.empty((L, T, m, G), dt)
    hs = np.empty((L, T + 1, m, H), dt)
    hs[:, 0] = 0
    # Unused buffers keep their rank (so the layer calls type-check) but not their size.
    cs = np.zeros((L, T + 1, m, H) if cell == LSTM else (L, 1, 1, 1), dt)
    aux = np.empty((L, T, m, H) if cell != RNN else (L, 1, 1, 1), dt)
    gh = np.empty((m, G), dt)
    for layer in range(L):
        xin = _layer_input(layer, xin0, xdrop, hs, masks, a, True)
        k = 4 * layer
        _layer_forward(
            cell, xin, _matrix(theta, offs, k, xin.shape[1]), _matrix(theta, offs, k + 1, H),
            _vector(theta, offs, k + 2), _vector(theta, offs, k + 3),
            gates[layer], hs[layer], cs[layer], aux[layer], gh, relu,
        )
    return xin0, xdrop, gates, hs, cs, aux


@njit
def _layer_input(layer, xin0, xdrop, hs, masks, a, fill):
    """The (T*m, D) input of ``layer``; with ``fill``, applies the dropout mask between layers."""
    T, m = xin0.shape[0], xin0.shape[1]
    if layer == 0:
        return xin0.reshape(T * m, xin0.shape[2])
    H = hs.shape[3]
    if xdrop.shape[0] > 0:
        d = xdrop[layer - 1]
        if fill:
            for t in range(T):
                for i in range(m):
                    for j in range(H):
                        d[t, i, j] = hs[layer - 1, t + 1, i, j] * masks[layer - 1, a + i, t, j]
        return d.reshape(T * m, H)
    return hs[layer - 1, 1:].reshape(T * m, H)


@njit
def _head(theta, offs, L, H, hs, seq):
    """The head's input rows and outputs.

    Rows are every step's top-layer state, (T*m, H) in time-major order, or the
    last step's, (m, H); returns ``(rows, P)`` with ``P = rows @ W^T + b``.
    """
    top = hs[L - 1]
    T1, m = top.shape[0], top.shape[1]
    rows = top[1:].reshape((T1 - 1) * m, H) if seq else top[T1 - 1]
    w_head = _matrix(theta, offs, 4 * L, H)
    b_head = _vector(theta, offs, 4 * L + 1)
    P = np.empty((rows.shape[0], w_head.shape[0]), theta.dtype)
    np.dot(rows, w_head.T, P)
    for r in range(P.shape[0]):
        for o in range(P.shape[1]):
            P[r, o] += b_head[o]
    return rows, P


@njit
def _chunk_loss_grad(cell, relu, X, Y, sw, a, b, theta, offs, L, H, masks, seq, trunc,
                     code, qs, delta, scale, grad, dX):
    """Forward, loss and BPTT for samples a:b; returns the chunk's weighted loss sum."""
    m = b - a
    T, C = X.shape[1], X.shape[2]
    dt = theta.dtype
    xin0, xdrop, gates, hs, cs, aux = _forward_chunk(cell, relu, X, a, b, theta, offs, L, H, masks)
    G = gates.shape[3]
    kh = 4 * L
    w_head = _matrix(theta, offs, kh, H)
    hin, P = _head(theta, offs, L, H, hs, seq)
    R, O = P.shape
    K = Y.shape[2]
    Yr = np.empty((R, K), dt)
    wr = np.empty(R, dt)
    for r in range(R):
        i = r % m
        wr[r] = sw[a + i]
        for k in range(K):
            Yr[r, k] = Y[a + i, r // m, k]
    dP = np.empty((R, O), dt)
    part = loss_rows(P, Yr, wr, code, qs, delta, scale, dP)

    np.dot(dP.T, hin, _matrix(grad, offs, kh, H))
    _colsum(dP, _vector(grad, offs, kh + 1))
    dh = np.zeros((T, m, H), dt)
    if seq:
        np.dot(dP, w_head, dh.reshape(T * m, H))
    else:
        np.dot(dP, w_head, dh[T - 1])

    dgx = np.empty((T, m, G), dt)
    dgh = np.empty((T, m, G), dt) if cell == GRU else dgx
    dhn = np.empty((m, H), dt)
    dcn = np.empty((m, H), dt)
    dtmp = np.empty((m, H), dt)
    for layer in range(L - 1, -1, -1):
        k = 4 * layer
        xin = _layer_input(layer, xin0, xdrop, hs, masks, a, False)
        w_ih = _matrix(theta, offs, k, xin.shape[1])
        _layer_backward(
            cell, dh, _matrix(theta, offs, k + 1, H), gates[layer], hs[layer],
            cs[layer], aux[layer], dgx, dgh, dhn, dcn, dtmp, trunc, relu,
        )
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
        elif dX.shape[0] > 0:
            dx0 = np.empty((T * m, C), dt)
            np.dot(dgx2, w_ih, dx0)
            for t in range(T):
                for i in range(m):
                    for c in range(C):
                        dX[a + i, t, c] = dx0[t * m + i, c]
    return part


@njit
def _bounds(n, n_chunks, c):
    return c * n // n_chunks, (c + 1) * n // n_chunks


@njit
def _train_buffers(X, theta, n_chunks, want_dx):
    """Per-chunk gradient and loss buffers, and the input gradient (empty unless wanted)."""
    n, T, C = X.shape
    gbuf = np.zeros((n_chunks, theta.shape[0]), theta.dtype)
    lbuf = np.zeros(n_chunks)
    dX = np.zeros((n if want_dx else 0, T, C), theta.dtype)
    return gbuf, lbuf, dX


@njit
def _reduce(lbuf, gbuf):
    """Add the chunks' results in chunk order (fixed, thread-independent)."""
    loss = 0.0
    grad = gbuf[0].copy()
    for c in range(lbuf.shape[0]):
        loss += lbuf[c]
        if c > 0:
            grad += gbuf[c]
    return loss, grad


@njit
def loss_grad_serial(cell, relu, X, Y, sw, theta, offs, L, H, masks, seq, trunc,
                     code, qs, delta, scale, want_dx, n_chunks):
    """Loss (weighted sum, unnormalised) and gradient over a batch, one thread.

    Returns ``(loss_sum, grad, dX)``; ``dX`` is empty unless ``want_dx``.
    """
    n = X.shape[0]
    gbuf, lbuf, dX = _train_buffers(X, theta, n_chunks, want_dx)
    for c in range(n_chunks):
        a, b = _bounds(n, n_chunks, c)
        lbuf[c] = _chunk_loss_grad(cell, relu, X, Y, sw, a, b, theta, offs, L, H, masks, seq,
                                   trunc, code, qs, delta, scale, gbuf[c], dX)
    loss, grad = _reduce(lbuf, gbuf)
    return loss, grad, dX


@njit(parallel=True)
def loss_grad_parallel(cell, relu, X, Y, sw, theta, offs, L, H, masks, seq, trunc,
                       code, qs, delta, scale, want_dx, n_chunks):
    """Same as :func:`loss_grad_serial`, chunks spread over Numba's threads."""
    n = X.shape[0]
    gbuf, lbuf, dX = _train_buffers(X, theta, n_chunks, want_dx)
    for c in prange(n_chunks):
        a, b = _bounds(n, n_chunks, c)
        lbuf[c] = _chunk_loss_grad(cell, relu, X, Y, sw, a, b, theta, offs, L, H, masks, seq,
                                   trunc, code, qs, delta, scale, gbuf[c], dX)
    loss, grad = _reduce(lbuf, gbuf)
    return loss, grad, dX


@njit
def _predict_chunk(cell, relu, X, a, b, theta, offs, L, H, seq, out):
    masks = np.empty((0, 0, 0, 0), theta.dtype)
    hs = _forward_chunk(cell, relu, X, a, b, theta, offs, L, H, masks)[3]
    P = _head(theta, offs, L, H, hs, seq)[1]
    m = b - a
    for r in range(P.shape[0]):
        for o in range(P.shape[1]):
            out[a + r % m, r // m, o] = P[r, o]


@njit
def predict_serial(cell, relu, X, theta, offs, L, H, O, seq, n_chunks):
    """Head outputs, (n, T, O) if ``seq`` else (n, 1, O), one thread."""
    n, T = X.shape[0], X.shape[1]
    out = np.empty((n, T if seq else 1, O), theta.dtype)
    for c in range(n_chunks):
        a, b = _bounds(n, n_chunks, c)
        _predict_chunk(cell, relu, X, a, b, theta, offs, L, H, seq, out)
    return out


@njit(parallel=True)
def predict_parallel(cell, relu, X, theta, offs, L, H, O, seq, n_chunks):
    """Same as :func:`predict_serial`, chunks spread over Numba's threads."""
    n, T = X.shape[0], X.shape[1]
    out = np.empty((n, T if seq else 1, O), theta.dtype)
    for c in prange(n_chunks):
        a, b = _bounds(n, n_chunks, c)
        _predict_chunk(cell, relu, X, a, b, theta, offs, L, H, seq, out)
    return out
