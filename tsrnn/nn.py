"""``Network``: a recurrent stack plus a linear head, with PyTorch's parameter layout.

This is the low-level API every tsrnn estimator is built on.  It holds the
parameters, computes predictions, and computes a loss with the gradient of
every parameter by backpropagation through time; it does not train (see the
estimators for that).

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

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from tsrnn._jit import num_threads, numba_threads, resolve_n_jobs
from tsrnn._kernels import network as _k
from tsrnn._kernels.losses import CODES as _LOSS_CODES
from tsrnn._kernels.losses import CROSS_ENTROPY, loss_rows
from tsrnn._validation import (
    as_float_array,
    check_choice,
    check_dtype,
    check_float,
    check_int,
    check_n_jobs,
    check_quantiles,
)

__all__ = ["Network"]

LOSSES = tuple(_LOSS_CODES)
INITS = ("pytorch", "orthogonal")

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


def _train_chunks(n):
    return _n_chunks(n, _MIN_CHUNK, _MAX_TRAIN_CHUNKS)


def _predict_chunks(n):
    return _n_chunks(n, _PREDICT_CHUNK, n)


class Network:
    """A stack of recurrent layers (Elman RNN, LSTM or GRU) and a linear head.

    The parameters are those of the PyTorch module::

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = torch.nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
                self.head = torch.nn.Linear(hidden_size, output_size)

    with the same names, shapes and gate order (LSTM ``i, f, g, o``; GRU
    ``r, z, n``), so ``state_dict()`` loads into that module and back.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        Recurrent cell.  ``"rnn"`` is the Elman cell
        ``h_t = activation(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.
    input_size : int, default=1
        Channels per time step (C).
    hidden_size : int, default=32
        Hidden units per layer (H).
    num_layers : int, default=1
        Stacked recurrent layers.
    output_size : int, default=1
        Outputs of the head.
    activation : {"tanh", "relu"}, default="tanh"
        Nonlinearity of the ``"rnn"`` cell (LSTM and GRU only take ``"tanh"``).
    dtype : numpy.float32 or numpy.float64, default=numpy.float32
        Floating type of the parameters and of all computation.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights.  Weights are drawn in float64 and cast, so
        float32 and float64 networks with the same seed start alike.
    init : {"pytorch", "orthogonal"}, default="pytorch"
        ``"pytorch"``: every recurrent weight and bias uniform in
        ``±1/sqrt(hidden_size)``, as ``torch.nn.RNN/LSTM/GRU``; the head as
        ``torch.nn.Linear``.  ``"orthogonal"``: Keras' scheme — Glorot-uniform
        input weights, orthogonal recurrent blocks, zero biases with the LSTM
        forget-gate bias at 1, Glorot-uniform head.  In the experiment of
        ``benchmarks/init_experiment.py`` (Seattle weather, hidden 32, 5 seeds;
        see ``benchmarks/RESULTS.md``) ``"pytorch"`` reached the lower best
        validation error for rnn (0.157 vs 0.166) and lstm (0.144 vs 0.149)
        in every seed and tied for gru; ``"orthogonal"`` converged in fewer
        epochs but then overfitted sooner.  Hence the default, which is also
        the distribution a PyTorch user's freshly built module starts from.

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        The flat parameter vector, the single source of truth; the arrays of
        ``state_dict()`` are copies of slices of it.
    n_params : int
        Its length.

    Examples
    --------
    >>> import numpy as np
    >>> net = Network("lstm", input_size=3, hidden_size=4, num_layers=2, random_state=0)
    >>> sorted(net.state_dict())[:2]
    ['head.bias', 'head.weight']
    >>> net.forward(np.ones((5, 7, 3))).shape
    (5, 1)
    """

    def __init__(self, cell="lstm", input_size=1, hidden_size=32, num_layers=1, output_size=1,
                 activation="tanh", dtype=np.float32, random_state=None, init="pytorch"):
        self.cell = check_choice("cell", cell, _k.CELL_CODES)
        self.input_size = check_int("input_size", input_size)
        self.hidden_size = check_int("hidden_size", hidden_size)
        self.num_layers = check_int("num_layers", num_layers)
        self.output_size = check_int("output_size", output_size)
        self.activation = check_choice("activation", activation, ("tanh", "relu"))
        if self.cell != "rnn" and self.activation != "tanh":
            raise ValueError(
                f"`activation`={activation!r} is only available for cell='rnn'; "
                f"the {cell} cell uses its own gates."
            )
        self.dtype = check_dtype("dtype", dtype)
        self.init = check_choice("init", init, INITS)
        self._build_layout()
        self.params = np.empty(self.n_params, self.dtype)
        self.reset_parameters(random_state)

    # ------------------------------------------------------------------ layout
    def _build_layout(self):
        G = _k.N_GATES[self.cell]
        H, C = self.hidden_size, self.input_size
        shapes = {}
        for k in range(self.num_layers):
            D = C if k == 0 else H
            shapes[f"rnn.weight_ih_l{k}"] = (G * H, D)
            shapes[f"rnn.weight_hh_l{k}"] = (G * H, H)
            shapes[f"rnn.bias_ih_l{k}"] = (G * H,)
            shapes[f"rnn.bias_hh_l{k}"] = (G * H,)
        shapes["head.weight"] = (self.output_size, H)
        shapes["head.bias"] = (self.output_size,)
        self._shapes = shapes
        sizes = [int(np.prod(s)) for s in shapes.values()]
        self._offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.n_params = int(self._offs[-1])

    def _views(self, flat):
        out = {}
        for k, (name, shape) in enumerate(self._shapes.items()):
            out[name] = flat[self._offs[k]:self._offs[k + 1]].reshape(shape)
        return out

    @property
    def weight_mask(self):
        """Boolean mask of the flat vector: True on weight matrices, False on biases."""
        mask = np.zeros(self.n_params, bool)
        for k, name in enumerate(self._shapes):
            mask[self._offs[k]:self._offs[k + 1]] = "weight" in name
        return mask

    def reset_parameters(self, random_state=None):
        """Draw fresh initial parameters (see ``init``).

        Parameters
        ----------
        random_state : int, RandomState instance or None
            Seed of the draw.

        Returns
        -------
        self : Network
        """
        rng = check_random_state(random_state)
        H = self.hidden_size
        G = _k.N_GATES[self.cell]
        values = {}
        for name, shape in self._shapes.items():
            fan_in = shape[1] if len(shape) == 2 else H
            if self.init == "pytorch":
                bound = 1.0 / np.sqrt(H if name.startswith("rnn.") else fan_in)
                values[name] = rng.uniform(-bound, bound, size=shape)
            elif "bias" in name:
                values[name] = np.zeros(shape)
                if self.cell == "lstm" and "bias_ih" in name:
                    values[name][H:2 * H] = 1.0
            elif "weight_hh" in name:
                blocks = []
                for _ in range(G):
                    q, r = np.linalg.qr(rng.normal(size=(H, H)))
                    blocks.append(q * np.sign(np.diag(r)))
                values[name] = np.concatenate(blocks, axis=0)
            else:
                fan_out = shape[0] // (G if name.startswith("rnn.") else 1)
                bound = np.sqrt(6.0 / (shape[1] + fan_out))
                values[name] = rng.uniform(-bound, bound, size=shape)
        for name, view in self._views(self.params).items():
            view[...] = values[name]
        return self

    # -------------------------------------------------------------- state dict
    def state_dict(self):
        """Parameters by PyTorch name, as copies.

        Returns
        -------
        dict of str to ndarray
            ``rnn.weight_ih_l{k}``, ``rnn.weight_hh_l{k}``, ``rnn.bias_ih_l{k}``,
            ``rnn.bias_hh_l{k}`` for each layer k, then ``head.weight``,
            ``head.bias``; loadable by ``torch.nn.Module.load_state_dict``
            after ``torch.from_numpy``.
        """
        return {name: v.copy() for name, v in self._views(self.params).items()}

    def load_state_dict(self, state_dict):
        """Copy parameters in from a dict with exactly the keys of :meth:`state_dict`.

        Arrays (or CPU tensors of a PyTorch module's ``state_dict()``) are
        cast to this network's dtype; the argument is not modified.

        Parameters
        ----------
        state_dict : mapping of str to array-like

        Returns
        -------
        self : Network

        Raises
        ------
        ValueError
            On a missing or unexpected key, a wrong shape or a non-finite value.
            Nothing is changed in that case.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"`state_dict` must be a mapping, got {type(state_dict).__name__}.")
        missing = [k for k in self._shapes if k not in state_dict]
        extra = [k for k in state_dict if k not in self._shapes]
        if missing or extra:
            raise ValueError(
                f"`state_dict` does not match this {self!r}: missing keys {missing}, "
                f"unexpected keys {extra}."
            )
        new = np.empty_like(self.params)
        views = self._views(new)
        for name, shape in self._shapes.items():
            value = state_dict[name]
            if hasattr(value, "detach"):  # a torch tensor
                value = value.detach().cpu().numpy()
            arr = np.asarray(value)
            if arr.shape != shape:
                raise ValueError(
                    f"`state_dict[{name!r}]` has shape {arr.shape}; this network needs {shape}."
                )
            views[name][...] = as_float_array(f"state_dict[{name!r}]", arr, np.float64,
                                              ndims=(arr.ndim,))
        self.params[...] = new
        return self

    # ------------------------------------------------------------------ inputs
    def _check_X(self, X):
        X = as_float_array("X", X, self.dtype, ndims=(2, 3))
        if X.ndim == 2:
            if self.input_size != 1:
                raise ValueError(
                    f"`X` is 2-D with shape {X.shape}, which means one channel, but this network "
                    f"has input_size={self.input_size}; pass X of shape (n, T, {self.input_size})."
                )
            X = X.reshape(X.shape[0], X.shape[1], 1)
        n, T, C = X.shape
        if n == 0 or T == 0:
            raise ValueError(f"`X` must hold at least one sample and one step, got shape {X.shape}.")
        if C != self.input_size:
            raise ValueError(
                f"`X` has {C} channels (shape {X.shape}) but this network has "
                f"input_size={self.input_size}."
            )
        return X

    def _check_Y(self, Y, X, loss, seq, n_quantiles):
        n, T, _ = X.shape
        O = self.output_size
        lead = (n, T) if seq else (n,)
        if loss == "cross_entropy":
            Y = np.asarray(Y)
            if Y.shape != lead:
                raise ValueError(f"`Y` must have shape {lead} (class labels), got {Y.shape}.")
            if not (np.issubdtype(Y.dtype, np.integer)
                    or (np.issubdtype(Y.dtype, np.floating) and np.all(np.mod(Y, 1) == 0))):
                raise ValueError(f"`Y` must hold integer class labels, got dtype {Y.dtype}.")
            if Y.size and (Y.min() < 0 or Y.max() >= O):
                raise ValueError(
                    f"`Y` labels must lie in [0, {O - 1}] (output_size={O}); "
                    f"found range [{Y.min()}, {Y.max()}]."
                )
            return np.ascontiguousarray(Y.reshape(n, -1, 1), dtype=self.dtype)
        K = O // n_quantiles
        Y = as_float_array("Y", Y, self.dtype, ndims=(len(lead), len(lead) + 1))
        if Y.ndim == len(lead):
            Y = Y[..., None]
        if Y.shape != lead + (K,):
            raise ValueError(f"`Y` must have shape {lead + (K,)}, got {Y.shape}.")
        return Y.reshape(n, -1, K)

    def _check_sample_weight(self, sample_weight, n):
        if sample_weight is None:
            return np.ones(n, self.dtype)
        sw = as_float_array("sample_weight", sample_weight, self.dtype, ndims=(1,))
        if sw.shape != (n,):
            raise ValueError(f"`sample_weight` must have shape ({n},), got {sw.shape}.")
        if (sw < 0).any() or sw.sum() <= 0:
            raise ValueError("`sample_weight` must be non-negative with a positive sum.")
        return sw

    def _check_masks(self, masks, X):
        n, T, _ = X.shape
        if masks is None or self.num_layers == 1:
            if masks is not None and np.size(masks):
                raise ValueError("`dropout_masks` must be None for a single-layer network.")
            return np.empty((0, 0, 0, 0), self.dtype)
        shape = (self.num_layers - 1, n, T, self.hidden_size)
        masks = as_float_array("dropout_masks", masks, self.dtype, ndims=(4,))
        if masks.shape != shape:
            raise ValueError(f"`dropout_masks` must have shape {shape}, got {masks.shape}.")
        return masks

    # --------------------------------------------------------------- compute
    def forward(self, X, return_sequences=False, n_jobs=None):
        """Head outputs for a batch of windows.

        Parameters
        ----------
        X : array-like of shape (n, T, C), or (n, T) when ``input_size`` is 1
        return_sequences : bool, default=False
            If True, apply the head at every step.
        n_jobs : int or None, default=None
            Threads for the batch chunks (None: one).  The result does not
            depend on it, bit for bit.

        Returns
        -------
        ndarray of shape (n, output_size), or (n, T, output_size)
        """
        X = self._check_X(X)
        out = self._predict(X, bool(return_sequences), check_n_jobs(n_jobs))
        return out if return_sequences else out[:, 0, :]

    def _predict(self, X, seq, n_jobs):
        with num_threads(resolve_n_jobs(n_jobs)):
            return self._kernel_predict(X, seq)

    def _kernel_predict(self, X, seq):
        """Head outputs (n, T or 1, O) for a validated X; the caller scopes the threads."""
        chunks = _predict_chunks(X.shape[0])
        parallel = numba_threads() > 1 and chunks > 1
        driver = _k.predict_parallel if parallel else _k.predict_serial
        return driver(_k.CELL_CODES[self.cell], self.activation == "relu", X, self.params,
                      self._offs, self.num_layers, self.hidden_size, self.output_size, seq, chunks)

    def loss_grad(self, X, Y, loss="squared_error", *, sample_weight=None, return_sequences=False,
                  bptt_steps=None, quantiles=None, huber_delta=1.0, dropout_masks=None,
                  input_grad=False, n_jobs=None):
        """Loss of a batch and its gradient for every parameter, by BPTT.

        Parameters
        ----------
        X : array-like of shape (n, T, C), or (n, T) when ``input_size`` is 1
        Y : array-like
            Targets: (n, output_size) — or (n,) if ``output_size`` is 1 — for
            the pointwise losses; (n, K) for ``"quantile"`` where ``output_size
            = K * len(quantiles)``; integer labels (n,) for
            ``"cross_entropy"``.  With ``return_sequences`` a time axis
            follows n: (n, T, ...).
        loss : {"squared_error", "absolute_error", "huber", "quantile", "cross_entropy"}
            Weighted mean over samples (and steps) and outputs.
            ``"squared_error"`` with unit weights is ``torch.nn.MSELoss()``;
            ``"huber"`` is ``torch.nn.HuberLoss(delta=huber_delta)``;
            ``"quantile"`` is the pinball loss, output ``k * Q + q`` predicting
            target k at level ``quantiles[q]``; ``"cross_entropy"`` is
            ``torch.nn.CrossEntropyLoss()`` on the head's logits.
        sample_weight : array-like of shape (n,), optional
            Non-negative weights; the loss is divided by their sum.
        return_sequences : bool, default=False
            Many-to-many: the head and the loss apply at every step.
        bptt_steps : int, optional
            Truncated BPTT: the recurrent state is detached every
            ``bptt_steps`` steps counting back from the last, so gradients
            flow back through at most that many steps.
        quantiles : sequence of float in (0, 1), optional
            Levels for ``loss="quantile"``.
        huber_delta : float, default=1.0
            Threshold of the Huber loss.
        dropout_masks : array-like of shape (num_layers - 1, n, T, hidden_size), optional
            Multipliers applied to each layer's outputs before the next layer
            (inverted dropout: 0 or ``1 / (1 - p)``).
        input_grad : bool, default=False
            Also return the gradient with respect to ``X`` under key ``"input"``.
        n_jobs : int or None, default=None
            Threads for the batch chunks; the result is bitwise the same for any value.

        Returns
        -------
        loss : float
        grads : dict of str to ndarray
            The gradient of every parameter, keyed as :meth:`state_dict`.
        """
        two_d = np.ndim(X) == 2
        X = self._check_X(X)
        loss, grad, dX = self._loss_grad(
            X, Y, loss, sample_weight=sample_weight, return_sequences=return_sequences,
            bptt_steps=bptt_steps, quantiles=quantiles, huber_delta=huber_delta,
            dropout_masks=dropout_masks, input_grad=input_grad, n_jobs=n_jobs,
        )
        grads = self._views(grad)
        if input_grad:
            grads["input"] = dX[..., 0] if two_d else dX
        return loss, grads

    def _loss_grad(self, X, Y, loss, *, sample_weight=None, return_sequences=False,
                   bptt_steps=None, quantiles=None, huber_delta=1.0, dropout_masks=None,
                   input_grad=False, n_jobs=None):
        """Validated core of :meth:`loss_grad`: returns ``(loss, flat_grad, dX)``."""
        check_choice("loss", loss, LOSSES)
        seq = bool(return_sequences)
        n, T, _ = X.shape
        qs = self._check_quantiles(quantiles, loss)
        delta = check_float("huber_delta", huber_delta, low=0, low_open=True)
        trunc = check_int("bptt_steps", bptt_steps, allow_none=True) or T
        Y = self._check_Y(Y, X, loss, seq, len(qs) if loss == "quantile" else 1)
        sw = self._check_sample_weight(sample_weight, n)
        masks = self._check_masks(dropout_masks, X)
        n_jobs = check_n_jobs(n_jobs)
        with num_threads(resolve_n_jobs(n_jobs)):
            return self._kernel_loss_grad(X, Y, sw, _LOSS_CODES[loss], qs, delta, seq, trunc, masks,
                                          bool(input_grad))

    def _loss_scale(self, sw, T, seq, code):
        """1 / (row weight sum x outputs per row): turns weighted loss sums into means."""
        rows = float(sw.sum(dtype=np.float64)) * (T if seq else 1)
        return 1.0 / (rows if code == CROSS_ENTROPY else rows * self.output_size)

    def _kernel_loss_grad(self, X, Y, sw, code, qs, delta, seq, trunc, masks=None,
                          want_dx=False):
        """Loss and flat gradient for validated, prepared arrays (see :meth:`_loss_grad`).

        ``Y`` is (n, T or 1, K); ``masks`` None means no dropout.  The caller
        scopes the threads with ``tsrnn._jit.num_threads``.  The training loop
        calls this directly, once per minibatch, so that validation and thread
        scoping happen once per fit.
        """
        n, T, _ = X.shape
        if masks is None:
            masks = np.empty((0, 0, 0, 0), self.dtype)
        scale = self._loss_scale(sw, T, seq, code)
        chunks = _train_chunks(n)
        parallel = numba_threads() > 1 and chunks > 1
        driver = _k.loss_grad_parallel if parallel else _k.loss_grad_serial
        total, grad, dX = driver(
            _k.CELL_CODES[self.cell], self.activation == "relu", X, Y, sw, self.params, self._offs,
            self.num_layers, self.hidden_size, masks, seq, trunc, code, qs, delta, scale, want_dx,
            chunks,
        )
        return total * scale, grad, dX

    def _kernel_loss(self, X, Y, sw, code, qs, delta, seq):
        """Loss only (forward pass, no BPTT) for prepared arrays, as :meth:`_kernel_loss_grad`."""
        P = self._kernel_predict(X, seq)
        n, steps, O = P.shape
        rows = n * steps
        w = np.repeat(sw, steps) if seq else sw
        dP = np.empty((rows, O), P.dtype)
        total = loss_rows(P.reshape(rows, O), np.ascontiguousarray(Y.reshape(rows, -1)), w, code,
                          qs, delta, 1.0, dP)
        return total * self._loss_scale(sw, X.shape[1], seq, code)

    def _check_quantiles(self, quantiles, loss):
        if loss != "quantile":
            return np.empty(0, self.dtype)
        qs = check_quantiles(quantiles)
        if self.output_size % qs.size:
            raise ValueError(
                f"`output_size`={self.output_size} must be a multiple of the number of "
                f"`quantiles` ({qs.size}) for loss='quantile'."
            )
        return qs.astype(self.dtype)

    def __repr__(self):
        extra = f", activation={self.activation!r}" if self.cell == "rnn" else ""
        return (
            f"Network(cell={self.cell!r}, input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
            f"output_size={self.output_size}{extra}, dtype={np.dtype(self.dtype).name})"
        )
