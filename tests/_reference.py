"""Slow, obviously-correct NumPy reference for the tsrnn engine.

Everything here is float64, loops over time steps in plain Python and uses
NumPy only *within* a step.  It deliberately shares no code with ``tsrnn`` (do
not import ``tsrnn`` here): the tests compare the Numba engine against this
module, and this module against PyTorch (``tests/test_reference.py``).

Conventions
-----------
Weights are a ``dict`` with PyTorch's names and shapes for a module pair::

    rnn = nn.RNN | nn.LSTM | nn.GRU(C, H, L, batch_first=True)
    head = nn.Linear(H, O)

    rnn.weight_ih_l{k}  (G*H, in_k)   in_0 = C, in_k = H for k > 0
    rnn.weight_hh_l{k}  (G*H, H)
    rnn.bias_ih_l{k}    (G*H,)
    rnn.bias_hh_l{k}    (G*H,)
    head.weight         (O, H)
    head.bias           (O,)

with G = 1 (rnn), 4 (lstm, gate rows ordered i, f, g, o) or 3 (gru, gate rows
ordered r, z, n).  The initial state is zero: h_{-1} = c_{-1} = 0.

Cells (PyTorch's equations):

* rnn:  h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh | relu
* lstm: [i, f, g, o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
        i, f, o = sigmoid(.), g = tanh(.)
        c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
* gru:  r = sig(W_ir x + b_ir + W_hr h + b_hr)
        z = sig(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h_t = (1 - z) * n + z * h_{t-1}

Stacking: layer k+1 reads the hidden sequence of layer k multiplied
elementwise by ``dropout_masks[k, i, t, :]`` (shape of the masks array:
``(L-1, n, T, H)``; ``None`` means no dropout).

Outputs: many-to-one ``P = head(h^top_{T-1})`` of shape (n, O); many-to-many
(``return_sequences=True``) ``P[:, t] = head(h^top_t)`` of shape (n, T, O).

Truncated BPTT (``bptt_steps=k``): exactly PyTorch's behaviour when the
recurrent state (h, and c for LSTM) of every layer is ``.detach()``-ed at
segment boundaries aligned to the *end* of the sequence: the state handed from
step t-1 to step t is detached whenever ``(T - t) % k == 0`` (t in 1..T-1).
The forward pass is unaffected; the between-layer path (same time step) is
never truncated.
"""

from __future__ import annotations

import numpy as np

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
LOSSES = ("squared_error", "absolute_error", "huber", "quantile", "cross_entropy")


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def sigmoid(a):
    """Numerically stable logistic function, elementwise."""
    a = np.asarray(a, dtype=np.float64)
    out = np.empty_like(a)
    pos = a >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-a[pos]))
    e = np.exp(a[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def weight_shapes(cell, input_size, hidden_size, num_layers, output_size):
    """Return the ordered dict ``name -> shape`` PyTorch uses for rnn + head."""
    G = GATES[cell]
    shapes = {}
    for k in range(num_layers):
        in_k = input_size if k == 0 else hidden_size
        shapes[f"rnn.weight_ih_l{k}"] = (G * hidden_size, in_k)
        shapes[f"rnn.weight_hh_l{k}"] = (G * hidden_size, hidden_size)
        shapes[f"rnn.bias_ih_l{k}"] = (G * hidden_size,)
        shapes[f"rnn.bias_hh_l{k}"] = (G * hidden_size,)
    shapes["head.weight"] = (output_size, hidden_size)
    shapes["head.bias"] = (output_size,)
    return shapes


def random_weights(cell, input_size, hidden_size, num_layers, output_size, rng, scale=0.5):
    """Random float64 weights (uniform in [-scale, scale]) with PyTorch keys/shapes."""
    return {
        name: rng.uniform(-scale, scale, size=shape)
        for name, shape in weight_shapes(
            cell, input_size, hidden_size, num_layers, output_size
        ).items()
    }


def _check_cell(cell, weights):
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}")
    H = np.asarray(weights["rnn.weight_hh_l0"]).shape[1]
    G = np.asarray(weights["rnn.weight_hh_l0"]).shape[0] // H
    if G != GATES[cell]:
        raise ValueError(f"weights have {G} gates, cell {cell!r} needs {GATES[cell]}")


def _as_3d(X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3:
        raise ValueError("X must be (n, T, C) or (n, T)")
    return X


def is_boundary(t, T, bptt_steps):
    """True when the state passed from step t-1 into step t is detached."""
    if bptt_steps is None:
        return False
    return 1 <= t <= T - 1 and (T - t) % bptt_steps == 0


# ---------------------------------------------------------------------------
# single-layer forward / backward
# ---------------------------------------------------------------------------


def _layer_forward(cell, W_ih, W_hh, b_ih, b_hh, Xk, activation, h_init=None, c_init=None):
    """Run one layer over the sequence ``Xk`` (n, T, in_k), from the state ``h_init``
    (and the LSTM's ``c_init``), zero by default.

    Returns the hidden sequence (n, T, H) and a list of per-step caches used by
    :func:`_layer_backward`.
    """
    n, T, _ = Xk.shape
    H = W_hh.shape[1]
    h = np.zeros((n, H)) if h_init is None else np.asarray(h_init, np.float64)
    c = np.zeros((n, H)) if c_init is None else np.asarray(c_init, np.float64)
    Hs = np.zeros((n, T, H))
    Cs = np.zeros((n, T, H))
    caches = []
    for t in range(T):
        x = Xk[:, t, :]
        gi = x @ W_ih.T + b_ih  # (n, G*H) input part of the pre-activation
        gh = h @ W_hh.T + b_hh  # (n, G*H) recurrent part
        if cell == "rnn":
            a = gi + gh
            if activation == "tanh":
                h_new = np.tanh(a)
            elif activation == "relu":
                h_new = np.maximum(a, 0.0)
            else:
                raise ValueError(f"unknown activation {activation!r}")
            caches.append(dict(x=x, h_prev=h, a=a, h=h_new))
            h = h_new
        elif cell == "lstm":
            a = gi + gh
            i = sigmoid(a[:, 0 * H : 1 * H])
            f = sigmoid(a[:, 1 * H : 2 * H])
            g = np.tanh(a[:, 2 * H : 3 * H])
            o = sigmoid(a[:, 3 * H : 4 * H])
            c_new = f * c + i * g
            tc = np.tanh(c_new)
            h_new = o * tc
            caches.append(dict(x=x, h_prev=h, c_prev=c, i=i, f=f, g=g, o=o, tc=tc))
            h, c = h_new, c_new
            Cs[:, t, :] = c
        elif cell == "gru":
            r = sigmoid(gi[:, 0 * H : 1 * H] + gh[:, 0 * H : 1 * H])
            z = sigmoid(gi[:, 1 * H : 2 * H] + gh[:, 1 * H : 2 * H])
            hn = gh[:, 2 * H : 3 * H]  # W_hn h + b_hn
            nn_ = np.tanh(gi[:, 2 * H : 3 * H] + r * hn)
            h_new = (1.0 - z) * nn_ + z * h
            caches.append(dict(x=x, h_prev=h, r=r, z=z, n=nn_, hn=hn))
            h = h_new
        else:  # pragma: no cover
            raise ValueError(cell)
        Hs[:, t, :] = h
    caches.append(dict(h_last=h, c_last=c))  # the final state (after the last step)
    return Hs, caches


def _layer_backward(cell, W_ih, W_hh, caches, dHs, activation, bptt_steps):
    """Hand-written BPTT through one layer.

    ``dHs`` (n, T, H) is the gradient of the loss with respect to this layer's
    hidden output at every step coming from *outside* the recurrence (the head
    or the layer above).  Returns ``(dXk, dW_ih, dW_hh, db_ih, db_hh, dh0, dc0)``,
    the last two the gradients of the initial state.  The recurrent gradient
    carried from step t to step t-1 is zeroed when the state passed from t-1
    to t is detached (see :func:`is_boundary`); the initial state entering
    step 0 is detached when ``bptt_steps`` divides T.
    """
    n, T, H = dHs.shape
    in_k = W_ih.shape[1]
    dW_ih = np.zeros_like(W_ih)
    dW_hh = np.zeros_like(W_hh)
    db_ih = np.zeros(W_ih.shape[0])
    db_hh = np.zeros(W_hh.shape[0])
    dXk = np.zeros((n, T, in_k))
    dh_next = np.zeros((n, H))  # gradient wrt h_t arriving from step t+1
    dc_next = np.zeros((n, H))  # LSTM only: gradient wrt c_t from step t+1
    for t in range(T - 1, -1, -1):
        cache = caches[t]
        dh = dHs[:, t, :] + dh_next
        if cell == "rnn":
            if activation == "tanh":
                da = dh * (1.0 - cache["h"] ** 2)
            else:  # relu; derivative 0 at a == 0, as in PyTorch
                da = dh * (cache["a"] > 0.0)
            d_gi = da
            d_gh = da
            dh_prev = d_gh @ W_hh
            dc_prev = None
        elif cell == "lstm":
            i, f, g, o, tc = cache["i"], cache["f"], cache["g"], cache["o"], cache["tc"]
            do = dh * tc
            dc = dc_next + dh * o * (1.0 - tc**2)
            di = dc * g
            dg = dc * i
            df = dc * cache["c_prev"]
            dc_prev = dc * f
            da = np.concatenate(
                [
                    di * i * (1.0 - i),
                    df * f * (1.0 - f),
                    dg * (1.0 - g**2),
                    do * o * (1.0 - o),
                ],
                axis=1,
            )
            d_gi = da
            d_gh = da
            dh_prev = d_gh @ W_hh
        else:  # gru
            r, z, nn_, hn, h_prev = cache["r"], cache["z"], cache["n"], cache["hn"], cache["h_prev"]
            dn = dh * (1.0 - z)
            dz = dh * (h_prev - nn_)
            dh_direct = dh * z
            da_n = dn * (1.0 - nn_**2)
            dr = da_n * hn
            da_r = dr * r * (1.0 - r)
            da_z = dz * z * (1.0 - z)
            d_gi = np.concatenate([da_r, da_z, da_n], axis=1)
            d_gh = np.concatenate([da_r, da_z, da_n * r], axis=1)
            dh_prev = dh_direct + d_gh @ W_hh
            dc_prev = None
        dW_ih += d_gi.T @ cache["x"]
        db_ih += d_gi.sum(axis=0)
        dW_hh += d_gh.T @ cache["h_prev"]
        db_hh += d_gh.sum(axis=0)
        dXk[:, t, :] = d_gi @ W_ih
        if is_boundary(t, T, bptt_steps):
            dh_next = np.zeros((n, H))
            dc_next = np.zeros((n, H))
        else:
            dh_next = dh_prev
            if dc_prev is not None:
                dc_next = dc_prev
    if bptt_steps is not None and T % bptt_steps == 0:
        dh_next = np.zeros((n, H))
        dc_next = np.zeros((n, H))
    return dXk, dW_ih, dW_hh, db_ih, db_hh, dh_next, dc_next


# ---------------------------------------------------------------------------
# network forward
# ---------------------------------------------------------------------------


def _stack_forward(cell, weights, X, num_layers, activation, dropout_masks, h0=None,
                   c0=None):
    X = _as_3d(X)
    n, T, _ = X.shape
    inputs, hiddens, caches = [], [], []
    Xk = X
    for k in range(num_layers):
        W_ih = np.asarray(weights[f"rnn.weight_ih_l{k}"], dtype=np.float64)
        W_hh = np.asarray(weights[f"rnn.weight_hh_l{k}"], dtype=np.float64)
        b_ih = np.asarray(weights[f"rnn.bias_ih_l{k}"], dtype=np.float64)
        b_hh = np.asarray(weights[f"rnn.bias_hh_l{k}"], dtype=np.float64)
        Hs, cache = _layer_forward(cell, W_ih, W_hh, b_ih, b_hh, Xk, activation,
                                   None if h0 is None else h0[k], None if c0 is None else c0[k])
        inputs.append(Xk)
        hiddens.append(Hs)
        caches.append(cache)
        if k + 1 < num_layers:
            Xk = Hs if dropout_masks is None else Hs * dropout_masks[k]
    return X, inputs, hiddens, caches


def _check_masks(dropout_masks, num_layers, n, T, H):
    if dropout_masks is None:
        return None
    m = np.asarray(dropout_masks, dtype=np.float64)
    if m.shape != (num_layers - 1, n, T, H):
        raise ValueError(f"dropout_masks shape {m.shape} != {(num_layers - 1, n, T, H)}")
    return m


def ref_forward(
    cell,
    weights,
    X,
    *,
    num_layers,
    activation="tanh",
    return_sequences=False,
    dropout_masks=None,
    h0=None,
    c0=None,
    return_state=False,
):
    """Network output ``P``: (n, O) many-to-one or (n, T, O) many-to-many; with
    ``return_state`` also the final states ``(hN, cN)``, each (L, n, H)."""
    _check_cell(cell, weights)
    X = _as_3d(X)
    n, T, _ = X.shape
    H = np.asarray(weights["rnn.weight_hh_l0"]).shape[1]
    masks = _check_masks(dropout_masks, num_layers, n, T, H)
    _, _, hiddens, caches = _stack_forward(cell, weights, X, num_layers, activation, masks,
                                           h0, c0)
    W = np.asarray(weights["head.weight"], dtype=np.float64)
    b = np.asarray(weights["head.bias"], dtype=np.float64)
    top = hiddens[-1]
    P = top @ W.T + b if return_sequences else top[:, -1, :] @ W.T + b
    if not return_state:
        return P
    hN = np.stack([c[-1]["h_last"] for c in caches])
    cN = np.stack([c[-1]["c_last"] for c in caches])
    return P, (hN, cN)


# ---------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------


def ref_loss(loss, P, Y, sample_weight=None, *, quantiles=None, huber_delta=1.0):
    """Weighted loss value and its gradient ``dP`` (same shape as ``P``).

    Rows are samples (many-to-one, ``P`` of shape (n, O)) or (sample, step)
    pairs (many-to-many, ``P`` of shape (n, T, O)); row (i, t) carries the
    weight ``w_i`` of its sample.  ``S`` is the sum of the row weights.

    * squared_error:  sum_rows w * sum_o (p - y)^2 / (S * O)
    * absolute_error: sum_rows w * sum_o |p - y|   / (S * O)
    * huber:          per element 0.5 r^2 (|r| <= delta) else delta (|r| - delta/2)
    * quantile:       Y has K columns, P has K*Q; column k*Q+q is target k at
                      level quantiles[q]; pinball of r = y - p; / (S * K * Q)
    * cross_entropy:  P are logits, Y integer labels; -log softmax(p)[y] / S
    """
    P = np.asarray(P, dtype=np.float64)
    seq = P.ndim == 3
    n = P.shape[0]
    T = P.shape[1] if seq else 1
    O = P.shape[-1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError("sample_weight must have shape (n,)")
    # weight of every row, broadcastable against P
    W_rows = w[:, None, None] if seq else w[:, None]
    S = w.sum() * T

    if loss == "cross_entropy":
        labels = np.asarray(Y)
        if labels.shape != P.shape[:-1]:
            raise ValueError("Y labels must have shape P.shape[:-1]")
        labels = labels.astype(np.int64)
        m = P.max(axis=-1, keepdims=True)
        Z = P - m
        logsumexp = np.log(np.exp(Z).sum(axis=-1, keepdims=True))
        logp = Z - logsumexp
        onehot = np.zeros_like(P)
        np.put_along_axis(onehot, labels[..., None], 1.0, axis=-1)
        nll = -(logp * onehot).sum(axis=-1)  # per row
        value = float((nll * W_rows[..., 0]).sum() / S)
        soft = np.exp(logp)
        dP = W_rows * (soft - onehot) / S
        return value, dP

    Y = np.asarray(Y, dtype=np.float64)
    if loss == "quantile":
        if quantiles is None:
            raise ValueError("quantile loss needs quantiles")
        q = np.asarray(quantiles, dtype=np.float64)
        Q = q.size
        K = Y.shape[-1]
        if Y.shape[:-1] != P.shape[:-1] or K * Q != O:
            raise ValueError("quantile: P must have K*Q columns, Y K columns")
        # expand Y so that column k*Q+q holds target k; levels tile the same way
        Yx = np.repeat(Y, Q, axis=-1)
        qx = np.tile(q, K)
        r = Yx - P
        elem = np.where(r >= 0, qx * r, (qx - 1.0) * r)
        value = float((W_rows * elem).sum() / (S * K * Q))
        g = np.where(Yx > P, -qx, np.where(Yx < P, 1.0 - qx, 0.0))
        dP = W_rows * g / (S * K * Q)
        return value, dP

    if Y.shape != P.shape:
        raise ValueError(f"Y shape {Y.shape} != P shape {P.shape}")
    r = P - Y
    if loss == "squared_error":
        elem = r**2
        g = 2.0 * r
    elif loss == "absolute_error":
        elem = np.abs(r)
        g = np.sign(r)
    elif loss == "huber":
        d = float(huber_delta)
        small = np.abs(r) <= d
        elem = np.where(small, 0.5 * r**2, d * (np.abs(r) - 0.5 * d))
        g = np.where(small, r, d * np.sign(r))
    else:
        raise ValueError(f"unknown loss {loss!r}")
    value = float((W_rows * elem).sum() / (S * O))
    dP = W_rows * g / (S * O)
    return value, dP


# ---------------------------------------------------------------------------
# loss + gradients (hand-written BPTT)
# ---------------------------------------------------------------------------


def ref_loss_grad(
    cell,
    weights,
    X,
    Y,
    loss="squared_error",
    *,
    num_layers,
    activation="tanh",
    sample_weight=None,
    return_sequences=False,
    bptt_steps=None,
    quantiles=None,
    huber_delta=1.0,
    dropout_masks=None,
    h0=None,
    c0=None,
):
    """Loss value and gradients of every weight plus ``"input"`` (dL/dX), and of the
    initial state (``"h0"``, and ``"c0"`` for an LSTM) when ``h0`` is given.

    The gradients are computed by explicit backpropagation through time, layer
    by layer from the top, with the truncation rule described in the module
    docstring.  ``grads["input"]`` has the shape of ``X`` as given (2-D X
    gives a 2-D input gradient).
    """
    _check_cell(cell, weights)
    X_in = np.asarray(X, dtype=np.float64)
    X = _as_3d(X_in)
    n, T, _ = X.shape
    H = np.asarray(weights["rnn.weight_hh_l0"]).shape[1]
    if bptt_steps is not None and bptt_steps < 1:
        raise ValueError("bptt_steps must be >= 1")
    masks = _check_masks(dropout_masks, num_layers, n, T, H)
    _, inputs, hiddens, caches = _stack_forward(cell, weights, X, num_layers, activation, masks,
                                                h0, c0)

    W = np.asarray(weights["head.weight"], dtype=np.float64)
    b = np.asarray(weights["head.bias"], dtype=np.float64)
    top = hiddens[-1]
    P = top @ W.T + b if return_sequences else top[:, -1, :] @ W.T + b
    value, dP = ref_loss(
        loss, P, Y, sample_weight, quantiles=quantiles, huber_delta=huber_delta
    )

    grads = {}
    dHs = np.zeros((n, T, H))
    if return_sequences:
        grads["head.weight"] = np.einsum("nto,nth->oh", dP, top)
        grads["head.bias"] = dP.sum(axis=(0, 1))
        dHs += dP @ W
    else:
        grads["head.weight"] = dP.T @ top[:, -1, :]
        grads["head.bias"] = dP.sum(axis=0)
        dHs[:, -1, :] += dP @ W

    dh0 = np.zeros((num_layers, n, H))
    dc0 = np.zeros((num_layers, n, H))
    for k in range(num_layers - 1, -1, -1):
        W_ih = np.asarray(weights[f"rnn.weight_ih_l{k}"], dtype=np.float64)
        W_hh = np.asarray(weights[f"rnn.weight_hh_l{k}"], dtype=np.float64)
        dXk, dW_ih, dW_hh, db_ih, db_hh, dh0[k], dc0[k] = _layer_backward(
            cell, W_ih, W_hh, caches[k][:-1], dHs, activation, bptt_steps
        )
        grads[f"rnn.weight_ih_l{k}"] = dW_ih
        grads[f"rnn.weight_hh_l{k}"] = dW_hh
        grads[f"rnn.bias_ih_l{k}"] = db_ih
        grads[f"rnn.bias_hh_l{k}"] = db_hh
        if k > 0:
            dHs = dXk if masks is None else dXk * masks[k - 1]
        else:
            grads["input"] = dXk.reshape(X_in.shape)

    order = list(weight_shapes(cell, X.shape[2], H, num_layers, W.shape[0])) + ["input"]
    out = {key: grads[key] for key in order}
    if h0 is not None:
        out["h0"] = dh0
        if cell == "lstm":
            out["c0"] = dc0
    return value, out


# ---------------------------------------------------------------------------
# a loss with frozen boundary states: the function truncated BPTT differentiates
# ---------------------------------------------------------------------------


def ref_truncated_objective(
    cell,
    weights0,
    X,
    Y,
    loss="squared_error",
    *,
    num_layers,
    bptt_steps,
    activation="tanh",
    sample_weight=None,
    return_sequences=False,
    quantiles=None,
    huber_delta=1.0,
    dropout_masks=None,
):
    """Return ``f(weights) -> loss`` whose exact gradient at ``weights0`` is the
    truncated-BPTT gradient.

    The recurrent state of every layer entering a detached step t (see
    :func:`is_boundary`) is replaced by the constant state computed with
    ``weights0``; the rest of the computation uses the weights passed to ``f``.
    Evaluated at ``weights0`` it gives the ordinary loss, and its derivative is
    what ``.detach()`` at the boundaries produces, so central differences of
    ``f`` check truncated gradients without any autograd.
    """
    X = _as_3d(X)
    n, T, _ = X.shape
    H = np.asarray(weights0["rnn.weight_hh_l0"]).shape[1]
    masks = _check_masks(dropout_masks, num_layers, n, T, H)

    def run(weights, frozen):
        """Forward pass; with ``frozen is None`` it records boundary states."""
        record = {}
        Xk = X
        for k in range(num_layers):
            W_ih = weights[f"rnn.weight_ih_l{k}"]
            W_hh = weights[f"rnn.weight_hh_l{k}"]
            b_ih = weights[f"rnn.bias_ih_l{k}"]
            b_hh = weights[f"rnn.bias_hh_l{k}"]
            h = np.zeros((n, H))
            c = np.zeros((n, H))
            Hs = np.zeros((n, T, H))
            for t in range(T):
                if is_boundary(t, T, bptt_steps):
                    if frozen is None:
                        record[(k, t)] = (h.copy(), c.copy())
                    else:
                        h, c = (a.copy() for a in frozen[(k, t)])
                x = Xk[:, t, :]
                gi = x @ W_ih.T + b_ih
                gh = h @ W_hh.T + b_hh
                if cell == "rnn":
                    a = gi + gh
                    h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)
                elif cell == "lstm":
                    a = gi + gh
                    i = sigmoid(a[:, :H])
                    f = sigmoid(a[:, H : 2 * H])
                    g = np.tanh(a[:, 2 * H : 3 * H])
                    o = sigmoid(a[:, 3 * H :])
                    c = f * c + i * g
                    h = o * np.tanh(c)
                else:
                    r = sigmoid(gi[:, :H] + gh[:, :H])
                    z = sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
                    nn_ = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
                    h = (1.0 - z) * nn_ + z * h
                Hs[:, t, :] = h
            if k + 1 < num_layers:
                Xk = Hs if masks is None else Hs * masks[k]
        Wh, bh = weights["head.weight"], weights["head.bias"]
        P = Hs @ Wh.T + bh if return_sequences else Hs[:, -1, :] @ Wh.T + bh
        return P, record

    _, frozen = run({k: np.asarray(v, dtype=np.float64) for k, v in weights0.items()}, None)

    def f(weights):
        P, _ = run({k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}, frozen)
        return ref_loss(
            loss, P, Y, sample_weight, quantiles=quantiles, huber_delta=huber_delta
        )[0]

    return f


# ---------------------------------------------------------------------------
# finite differences
# ---------------------------------------------------------------------------


def numeric_grad(f, x, eps=1e-4, order=4):
    """Central-difference gradient of the scalar function ``f`` at ``x``.

    ``x`` is never modified: every evaluation gets a fresh float64 copy with a
    single entry perturbed.  ``order=2`` uses (f(x+e) - f(x-e)) / 2e;
    ``order=4`` (default) the five-point stencil
    (-f(x+2e) + 8 f(x+e) - 8 f(x-e) + f(x-2e)) / 12e, whose truncation error is
    O(e^4), so a fairly large ``eps`` (round-off ~ 1e-16 / eps) can be used.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    g = np.zeros_like(x)
    flat = x.reshape(-1)
    gflat = g.reshape(-1)

    def at(j, delta):
        xp = flat.copy()
        xp[j] += delta
        return float(f(xp.reshape(x.shape)))

    for j in range(flat.size):
        if order == 2:
            gflat[j] = (at(j, eps) - at(j, -eps)) / (2.0 * eps)
        elif order == 4:
            gflat[j] = (
                -at(j, 2 * eps) + 8.0 * at(j, eps) - 8.0 * at(j, -eps) + at(j, -2 * eps)
            ) / (12.0 * eps)
        else:
            raise ValueError("order must be 2 or 4")
    return g


def assert_params_gradient(model, value, grads, rtol=1e-6, atol=1e-9, eps=1e-5):
    """Check ``grads`` (keyed as ``model.state_dict()``) against central differences of
    ``value()``, the loss of ``model`` at its current ``params`` (restored after)."""
    flat = np.concatenate([np.asarray(grads[k]).ravel() for k in model.state_dict()])
    p0 = model.params.copy()

    def objective(p):
        model.params[...] = p
        return value()

    try:
        num = numeric_grad(objective, p0.copy(), eps=eps)
    finally:
        model.params[...] = p0
    np.testing.assert_allclose(flat, num, rtol=rtol, atol=atol)


def rel_error(a, b, tiny=1e-300):
    """||a - b|| / max(||a|| + ||b||, tiny): the per-key gradient-check metric."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), tiny))
