"""``Network``: a recurrent stack plus a linear head, with PyTorch's parameter layout.

It holds the parameters in one flat vector, computes predictions, and
computes a loss with the gradient of every parameter by backpropagation
through time, over fixed chunks of the batch (see
:mod:`tsrnn._engine.kernels.drivers`); it does not train (see
:mod:`tsrnn._engine.training`).  Public as :mod:`tsrnn.nn`.
"""

from __future__ import annotations

import numpy as np

from tsrnn._engine import inputs as _inputs
from tsrnn._engine import launch as _launch
from tsrnn._engine import sequences, threads
from tsrnn._engine import static as _static
from tsrnn._engine.init import INITS, initial_values
from tsrnn._engine.kernels import drivers as _k
from tsrnn._engine.kernels.losses import CODES as _LOSS_CODES
from tsrnn._engine.kernels.losses import CROSS_ENTROPY, loss_rows
from tsrnn._engine.plan import (
    Workspace,
    check_layers,
    check_plan,
    fresh,
    predict_chunks,
    train_chunks,
)
from tsrnn._validation import (
    as_float_array,
    check_choice,
    check_dtype,
    check_float,
    check_int,
    check_n_jobs,
    check_random_state,
)

__all__ = ["Network", "Workspace"]

LOSSES = tuple(_LOSS_CODES)
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
        Outputs of the head.  0 makes a headless network: an encoder whose
        only output is its final state (``return_state``), trained through
        ``loss_grad(hN_grad=...)`` (its own loss is zero).
    activation : {"tanh", "relu"}, default="tanh"
        Nonlinearity of the ``"rnn"`` cell (LSTM and GRU only take ``"tanh"``).
    dtype : numpy.float32 or numpy.float64, default=numpy.float32
        Floating type of the parameters and of all computation.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights.  Weights are drawn in float64 and cast, so
        float32 and float64 networks with the same seed start alike.
    init : {"pytorch", "orthogonal", "identity"}, default="pytorch"
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
        ``"identity"`` (``cell="rnn"`` only): identity recurrent weights, zero
        biases, input weights N(0, 0.001²) — the IRNN of Le et al. (2015),
        which lets a ReLU network carry a signal over long sequences.

    num_embeddings : int, default=0
        Rows of a learned embedding table ``embedding.weight`` of shape
        ``(num_embeddings, embedding_dim)`` (0: none).  With ``groups=`` in
        :meth:`forward` and :meth:`loss_grad`, sample ``i`` reads row
        ``groups[i]`` as ``embedding_dim`` more input channels at every step,
        after its own ``input_size``; the first layer's ``weight_ih`` has
        ``input_size + embedding_dim`` columns.  In PyTorch terms the input is
        ``torch.cat([x, emb(groups)[:, None].expand(-1, T, -1)], -1)``.  The
        table starts at zero (a caller may load other values); it is trained
        with the other parameters, without weight decay.
    embedding_dim : int, default=0
        Width of each embedding row.
    static_size : int, default=0
        Static inputs per sample (constant over its steps: a sensor's site, a
        ticker's sector), mapped to the initial state by a learned layer
        ``init.weight`` ``(S_out, static_size)``, ``init.bias`` ``(S_out,)``:
        ``h_0 = tanh(W s + b)`` for every layer (``S_out = num_layers *
        hidden_size``; an LSTM's ``c_0`` from a second half, ``S_out`` twice
        that).  Given as ``static=`` to :meth:`forward` and :meth:`loss_grad`
        (not with ``h0``).  0: none, the state starts at zero.

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
                 activation="tanh", dtype=np.float32, random_state=None, init="pytorch",
                 num_embeddings=0, embedding_dim=0, static_size=0):
        self._configure(cell, input_size, hidden_size, num_layers, output_size, activation,
                        dtype, init, num_embeddings, embedding_dim, static_size)
        self._check_plan()
        self.params = np.empty(self.n_params, self.dtype)
        self.reset_parameters(random_state)

    @classmethod
    def _with_params(cls, params, *, cell, input_size, hidden_size, num_layers, output_size,
                     activation, dtype, init, num_embeddings=0, embedding_dim=0,
                     static_size=0):
        """A network of the given layout holding ``params`` as its flat vector (not copied).

        For model files: the layout is checked as ``__init__`` checks it, but no
        second vector is allocated and no initial weights are drawn, so that
        loading a large network takes its size in memory once.
        """
        net = cls.__new__(cls)
        net._configure(cell, input_size, hidden_size, num_layers, output_size, activation,
                       dtype, init, num_embeddings, embedding_dim, static_size)
        ok = isinstance(params, np.ndarray) and params.shape == (net.n_params,) and \
            params.dtype == np.dtype(net.dtype) and params.flags.c_contiguous and \
            params.flags.writeable and params.flags.aligned
        if not ok:
            raise ValueError(f"`params` must be a writeable contiguous {np.dtype(net.dtype)} "
                             f"vector of the layout's {net.n_params} parameters, got "
                             f"{getattr(params, 'dtype', type(params).__name__)} of shape "
                             f"{getattr(params, 'shape', None)}.")
        net.params = params
        return net

    def _configure(self, cell, input_size, hidden_size, num_layers, output_size, activation,
                   dtype, init, num_embeddings, embedding_dim, static_size=0):
        """Check and set the layout (everything but the parameter values)."""
        self.cell = check_choice("cell", cell, _k.CELLS)
        self.input_size = check_int("input_size", input_size)
        self.hidden_size = check_int("hidden_size", hidden_size)
        self.num_layers = check_layers(check_int("num_layers", num_layers))
        # 0: a headless network, an encoder whose only output is its final state
        self.output_size = check_int("output_size", output_size, low=0)
        self.activation = check_choice("activation", activation, ("tanh", "relu"))
        if self.cell != "rnn" and self.activation != "tanh":
            raise ValueError(
                f"`activation`={activation!r} is only available for cell='rnn'; "
                f"the {cell} cell uses its own gates."
            )
        self.dtype = check_dtype("dtype", dtype)
        self.init = check_choice("init", init, INITS)
        if self.init == "identity" and self.cell != "rnn":
            raise ValueError(f"`init`='identity' is for the Elman cell (cell='rnn'); the "
                             f"{cell} cell's gates need 'pytorch' or 'orthogonal'.")
        self.num_embeddings = check_int("num_embeddings", num_embeddings, low=0)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, low=0)
        if (self.num_embeddings == 0) != (self.embedding_dim == 0):
            raise ValueError(f"`num_embeddings`={num_embeddings} and `embedding_dim`="
                             f"{embedding_dim} must both be positive (an embedding) or both 0.")
        self.static_size = check_int("static_size", static_size, low=0)
        self._build_layout()

    def _check_plan(self, **training):
        """:func:`~tsrnn._engine.plan.check_plan` for this network's layout (building it,
        or ``training`` as :func:`~tsrnn._engine.plan.plan_bytes` takes it)."""
        check_plan(self.cell, self.input_size, self.hidden_size, self.num_layers,
                   self.output_size, self.dtype, num_embeddings=self.num_embeddings,
                   embedding_dim=self.embedding_dim, static_size=self.static_size, **training)

    # ------------------------------------------------------------------ layout
    @staticmethod
    def layout(cell, input_size, hidden_size, num_layers, output_size, num_embeddings=0,
               embedding_dim=0, static_size=0):
        """Names and shapes of the parameters, in the order of the flat vector.

        Returns
        -------
        dict of str to tuple
            PyTorch's state-dict names; computed without allocating anything
            (model files check a stored network's size with it).
        """
        G = _k.N_GATES[cell]
        H, C = hidden_size, input_size + embedding_dim
        shapes = {}
        for k in range(num_layers):
            D = C if k == 0 else H
            shapes[f"rnn.weight_ih_l{k}"] = (G * H, D)
            shapes[f"rnn.weight_hh_l{k}"] = (G * H, H)
            shapes[f"rnn.bias_ih_l{k}"] = (G * H,)
            shapes[f"rnn.bias_hh_l{k}"] = (G * H,)
        shapes["head.weight"] = (output_size, H)
        shapes["head.bias"] = (output_size,)
        if static_size:
            rows = _static.state_rows(cell, num_layers, hidden_size)
            shapes["init.weight"] = (rows, static_size)
            shapes["init.bias"] = (rows,)
        if num_embeddings:
            shapes["embedding.weight"] = (num_embeddings, embedding_dim)
        return shapes

    def _build_layout(self):
        self._shapes = self.layout(self.cell, self.input_size, self.hidden_size,
                                   self.num_layers, self.output_size, self.num_embeddings,
                                   self.embedding_dim, self.static_size)
        sizes = [int(np.prod(s)) for s in self._shapes.values()]
        self._offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.n_params = int(self._offs[-1])

    def _views(self, flat):
        out = {}
        for k, (name, shape) in enumerate(self._shapes.items()):
            out[name] = flat[self._offs[k]:self._offs[k + 1]].reshape(shape)
        return out

    @property
    def weight_mask(self):
        """Boolean mask of the flat vector: True on the weight matrices of the layers and
        the head (where an L2 penalty applies), False on biases and the embedding."""
        mask = np.zeros(self.n_params, bool)
        for k, name in enumerate(self._shapes):
            mask[self._offs[k]:self._offs[k + 1]] = "weight" in name and \
                not name.startswith("embedding.")
        return mask

    @property
    def embedding(self):
        """View of the embedding table in the flat vector, (num_embeddings, embedding_dim);
        (0, 0) without an embedding."""
        if not self.num_embeddings:
            return np.empty((0, 0), self.dtype)
        return self.params[self._offs[-2]:].reshape(self.num_embeddings, self.embedding_dim)

    def reset_parameters(self, random_state=None):
        """Draw fresh initial parameters (see ``init``); the embedding starts at zero.

        Parameters
        ----------
        random_state : int, RandomState instance or None
            Seed of the draw.

        Returns
        -------
        self : Network
        """
        values = initial_values(self._shapes, self.cell, self.init, self.hidden_size,
                                check_random_state(random_state))
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

    # --------------------------------------------------------------- compute
    def forward(self, X, return_sequences=False, n_jobs=None, groups=None, *, lengths=None,
                h0=None, return_state=False, static=None):
        """Head outputs for a batch of windows or of sequences of different lengths.

        Parameters
        ----------
        X : array-like of shape (n, T, C), (n, T) when ``input_size`` is 1, or list
            A list of n sequences of shapes ``(T_i, C)`` (or ``(T_i,)``) runs
            each to its own length.
        return_sequences : bool, default=False
            If True, apply the head at every step.
        n_jobs : int or None, default=None
            Threads for the batch chunks (None: one).  The result does not
            depend on it, bit for bit.
        groups : array-like of int of shape (n,), optional
            Each sample's embedding row (networks with ``num_embeddings``).
        lengths : array-like of int of shape (n,), optional
            With an array ``X``: each sequence's length; the steps after it
            are padding (any values, NaN included) and are ignored.
        h0 : ndarray of shape (num_layers, n, hidden_size), optional
            The state before the first step (default zero), laid out as
            ``torch.nn.RNN``/``GRU`` take it; an LSTM takes the pair
            ``(h0, c0)`` as ``torch.nn.LSTM`` does.
        return_state : bool, default=False
            Also return the state after each sequence's last step (``h_n``, or
            ``(h_n, c_n)`` for an LSTM, shaped as ``h0``): pass it back as
            ``h0`` to continue the sequences where they stopped.
        static : array-like of shape (n, static_size), optional
            Each sample's static inputs (networks with ``static_size``): its
            initial state is computed from them.

        Returns
        -------
        out : ndarray of shape (n, output_size), (n, T, output_size), or list
            Many-to-one: the head on each sequence's last real step.  With
            ``return_sequences``: every step's output; NaN past a sequence's
            length for a padded ``X``, a list of ``(T_i, output_size)`` arrays
            for a list ``X``.
        state : ndarray or tuple of ndarray
            Only with ``return_state``.

        Examples
        --------
        >>> import numpy as np
        >>> net = Network("gru", input_size=2, hidden_size=3, random_state=0)
        >>> seqs = [np.ones((5, 2)), np.ones((2, 2))]
        >>> net.forward(seqs).shape
        (2, 1)
        >>> out, h = net.forward(seqs, return_state=True)
        >>> h.shape
        (1, 2, 3)
        """
        X, lens, listed = _inputs.check_X(self, X, lengths)
        n = X.shape[0]
        groups = _inputs.check_groups(self, groups, n)
        h0, c0 = _inputs.check_state(self, h0, n)
        X = _static.with_inputs(self, X, static, h0)
        seq = bool(return_sequences)
        state = sequences.Batch(lens, h0, c0)
        if return_state:
            shape = (self.num_layers, n, self.hidden_size)
            state.hN = np.empty(shape, self.dtype)
            state.cN = np.empty(shape, self.dtype) if self.cell == "lstm" else None
        with threads.blas_single_thread():
            out = self._kernel_predict(X, seq, threads.resolve_n_jobs(check_n_jobs(n_jobs)),
                                       groups, state=state)
        if not seq:
            out = out[:, 0, :]
        elif listed:
            out = sequences.unpad(out, lens)
        else:
            out = sequences.mask_padding(out, lens)
        if not return_state:
            return out
        return out, ((state.hN, state.cN) if self.cell == "lstm" else state.hN)

    def _kernel_predict(self, X, seq, n_threads, groups=None, workspace=None,
                        state=sequences.NO_BATCH, masks=None):
        """Head outputs (n, T or 1, O) for a validated X, on ``n_threads`` threads; the
        caller holds :func:`tsrnn._engine.threads.blas_single_thread`.  ``masks``: dropout
        masks as in training (an encoder's final state under the masks its BPTT uses).
        With ``static_size``, X's last channels are the static inputs."""
        get = fresh if workspace is None else workspace.get
        X, state, _ = _static.call_state(self, X, state, get, False)
        n, T, _ = X.shape
        chunks = predict_chunks(n)
        H, O = self.hidden_size, self.output_size
        dropout = masks is not None and masks.size > 0
        size = _k.scratch_size(-(-n // chunks), T, self.input_size + self.embedding_dim,
                               self.num_layers, H, _k.N_GATES[self.cell] * H, O, 0, seq,
                               dropout, False, False)
        work = get("predict_work", (min(n_threads, chunks), size), self.dtype)
        out = get("predict_out", (n, T if seq else 1, O), self.dtype)
        train = _launch.no_training(self.dtype, seq)
        if dropout:
            train = train[:2] + (masks,) + train[3:]
        _launch.run(self, X, groups, chunks, n_threads, work, _k.PREDICT, train, out, state)
        return out

    def loss_grad(self, X, Y, loss="squared_error", *, sample_weight=None, return_sequences=False,
                  bptt_steps=None, quantiles=None, huber_delta=1.0, dropout_masks=None,
                  input_grad=False, n_jobs=None, groups=None, lengths=None, h0=None,
                  hN_grad=None, static=None):
        """Loss of a batch and its gradient for every parameter, by BPTT.

        Parameters
        ----------
        X : array-like of shape (n, T, C), (n, T) when ``input_size`` is 1, or list
            A list of sequences ``(T_i, C)`` runs each to its own length, as
            in :meth:`forward`.
        Y : array-like or list
            Targets: (n, output_size) — or (n,) if ``output_size`` is 1 — for
            the pointwise losses; (n, K) for ``"quantile"`` where ``output_size
            = K * len(quantiles)``; integer labels (n,) for
            ``"cross_entropy"``.  With ``return_sequences`` a time axis
            follows n: (n, T, ...); for sequences of different lengths, a list
            of per-sequence targets ``(T_i, ...)`` or a padded array (values
            past a length are ignored).  None for a headless network.
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
        groups : array-like of int of shape (n,), optional
            Each sample's embedding row (networks with ``num_embeddings``).
        lengths : array-like of int of shape (n,), optional
            Each sequence's length in a padded ``X`` (see :meth:`forward`).
            Padded steps take no loss (the mean runs over real steps) and get
            a zero input gradient.
        h0 : ndarray or pair of ndarray, optional
            The initial state, as in :meth:`forward`; its gradient is returned
            under ``"h0"`` (and ``"c0"`` for an LSTM).  Truncated BPTT detaches
            it like any other state when ``bptt_steps`` divides a length.
        hN_grad : ndarray or pair of ndarray, optional
            A gradient of the final state from outside, shaped as ``h0`` (an
            LSTM's pair ``(dh_n, dc_n)``): the returned gradients are those of
            ``loss + sum(hN_grad * h_n)``, what an encoder needs from the
            decoder it feeds.  Fixed-length batches only.
        static : array-like of shape (n, static_size), optional
            Static inputs, as in :meth:`forward`; the gradient reaches
            ``init.weight``/``init.bias`` through the initial state
            (``input_grad`` covers ``X`` only, not the static inputs).

        Returns
        -------
        loss : float
        grads : dict of str to ndarray
            The gradient of every parameter, keyed as :meth:`state_dict`.
        """
        two_d = not sequences.is_ragged(X) and np.ndim(X) == 2
        X, lens, listed = _inputs.check_X(self, X, lengths)
        n = X.shape[0]
        h0, c0 = _inputs.check_state(self, h0, n)
        X = _static.with_inputs(self, X, static, h0)
        state = sequences.Batch(lens, h0, c0)
        state.hN_grad, state.cN_grad = _inputs.check_state(self, hN_grad, n,
                                                           ("hN_grad", "cN_grad"))
        if hN_grad is not None and lens is not None:
            raise ValueError("`hN_grad` needs sequences of one length (a gradient of the "
                             "final state enters at the last step); got `lengths`.")
        if h0 is not None:
            state.dh0 = np.empty_like(h0)
            state.dc0 = None if c0 is None else np.empty_like(c0)
        loss, grad, dX = self._loss_grad(
            X, Y, loss, sample_weight=sample_weight, return_sequences=return_sequences,
            bptt_steps=bptt_steps, quantiles=quantiles, huber_delta=huber_delta,
            dropout_masks=dropout_masks, input_grad=input_grad, n_jobs=n_jobs, groups=groups,
            state=state,
        )
        grads = self._views(grad)
        if input_grad:
            if listed:
                grads["input"] = sequences.unpad(dX, lens)
            else:
                grads["input"] = dX[..., 0] if two_d else dX
        if h0 is not None:
            grads["h0"] = state.dh0
            if c0 is not None:
                grads["c0"] = state.dc0
        return loss, grads

    def _loss_grad(self, X, Y, loss, *, sample_weight=None, return_sequences=False,
                   bptt_steps=None, quantiles=None, huber_delta=1.0, dropout_masks=None,
                   input_grad=False, n_jobs=None, groups=None, state=sequences.NO_BATCH):
        """Validated core of :meth:`loss_grad` for a checked ``X`` (and its ``state``):
        returns ``(loss, flat_grad, dX)``."""
        check_choice("loss", loss, LOSSES)
        seq = bool(return_sequences)
        n, T, _ = X.shape
        qs = _inputs.check_quantiles_for(self, quantiles, loss)
        delta = check_float("huber_delta", huber_delta, low=0, low_open=True)
        trunc = sequences.truncation(check_int("bptt_steps", bptt_steps, allow_none=True), T)
        Y = _inputs.check_Y(self, Y, X, loss, seq, len(qs) if loss == "quantile" else 1,
                            state.lengths)
        sw = _inputs.check_sample_weight(self, sample_weight, n)
        masks = _inputs.check_masks(self, dropout_masks, X)
        groups = _inputs.check_groups(self, groups, n)
        n_threads = threads.resolve_n_jobs(check_n_jobs(n_jobs))
        self._check_plan(batch=n, steps=T, targets=Y.shape[2], seq=seq,
                         dropout=masks.shape[0] > 0, n_threads=n_threads)
        with threads.blas_single_thread():
            return self._kernel_loss_grad(X, Y, sw, _LOSS_CODES[loss], qs, delta, seq, trunc,
                                          masks, bool(input_grad), n_threads, groups=groups,
                                          state=state)

    def _loss_scale(self, sw, T, seq, code, state=sequences.NO_BATCH):
        """1 / (row weight sum x outputs per row): turns weighted loss sums into means.

        A row is a sample (many-to-one) or one real step of a sample
        (many-to-many: padded steps are not rows; step weights scale theirs).
        """
        factor = state.step_factor(T) if seq else None
        if factor is None:
            rows = float(sw.sum(dtype=np.float64)) * (T if seq else 1)
        else:
            rows = float((sw.astype(np.float64) @ factor).sum())
        if rows <= 0:
            raise ValueError("The weights leave no step with a positive weight.")
        if not self.output_size:
            return 0.0  # headless: no loss of its own, only a final state's gradient
        return 1.0 / (rows if code == CROSS_ENTROPY else rows * self.output_size)

    def _kernel_loss_grad(self, X, Y, sw, code, qs, delta, seq, trunc, masks=None,
                          want_dx=False, n_threads=1, groups=None, workspace=None,
                          state=sequences.NO_BATCH):
        """Loss and flat gradient for validated, prepared arrays (see :meth:`_loss_grad`).

        ``Y`` is (n, T or 1, K); ``masks`` None means no dropout; ``groups``
        the samples' embedding rows (int64) when the network has an embedding,
        whose gradient is then filled in too.  The caller holds
        :func:`tsrnn._engine.threads.blas_single_thread`.  The training loop
        calls this directly, once per minibatch, with the ``workspace`` of its
        fit: the returned gradient (and ``dX``) live in that workspace until
        the next call.  Returns ``(loss, grad, dX)``, ``dX`` (n, T, C), empty
        unless ``want_dx``.
        """
        get = fresh if workspace is None else workspace.get
        X, state, cache = _static.call_state(self, X, state, get, True)
        n, T, C = X.shape
        if masks is None:
            masks = np.empty((0, 0, 0, 0), self.dtype)
        embedded = self.num_embeddings > 0
        D = self.embedding_dim
        scale = self._loss_scale(sw, T, seq, code, state)
        chunks = train_chunks(n)
        H = self.hidden_size
        dx_rows = n if (want_dx or embedded) else 0
        size = _k.scratch_size(-(-n // chunks), T, C + D, self.num_layers, H,
                               _k.N_GATES[self.cell] * H, self.output_size, Y.shape[2], seq,
                               masks.shape[0] > 0, True, dx_rows > 0)
        work = get("train_work", (min(n_threads, chunks), size), self.dtype)
        gbuf = get("gbuf", (chunks, self.n_params), self.dtype)
        lbuf = get("lbuf", (chunks,), np.float64)
        dX = get("dX", (dx_rows, T, C + D), self.dtype)
        grad = get("grad", (self.n_params,), self.dtype)
        total = _launch.run(self, X, groups, chunks, n_threads, work, _k.TRAIN,
                            (Y, sw, masks, bool(seq), int(trunc), int(code), qs, float(delta),
                             float(scale), gbuf, lbuf, dX, grad), _launch.no_output(self.dtype),
                            state)
        if embedded:
            # each row's gradient: its samples' input gradient on the embedding channels,
            # summed over steps and samples in float64 (so that it does not depend on the
            # chunking either)
            g = np.zeros((self.num_embeddings, D), np.float64)
            np.add.at(g, groups, dX[:, :, C:].sum(axis=1, dtype=np.float64))
            grad[self._offs[-2]:] = g.astype(self.dtype).reshape(-1)
            dX = dX[:, :, :C] if want_dx else dX[:0, :, :C]
        if cache is not None:
            _static.write_grad(self, grad, state, cache)
        return total * scale, grad, dX

    def _kernel_loss(self, X, Y, sw, code, qs, delta, seq, n_threads=1, groups=None,
                     workspace=None, state=sequences.NO_BATCH):
        """Loss only (forward pass, no BPTT) for prepared arrays, as :meth:`_kernel_loss_grad`."""
        P = self._kernel_predict(X, seq, n_threads, groups, workspace, state)
        if seq:
            # the kernels leave the outputs past a chunk's longest sequence unwritten
            # (whatever the buffer held, NaN included): a zero weight times NaN is NaN
            sequences.mask_padding(P, state.lengths, 0)
        n, steps, O = P.shape
        rows = n * steps
        factor = state.step_factor(steps) if seq else None
        if not seq:
            w = sw
        elif factor is None:
            w = np.repeat(sw, steps)
        else:
            w = np.ascontiguousarray((sw[:, None] * factor).reshape(rows), dtype=sw.dtype)
        dP = np.empty((rows, O), P.dtype)
        total = loss_rows(P.reshape(rows, O), np.ascontiguousarray(Y.reshape(rows, -1)), w, code,
                          qs, delta, 1.0, dP)
        return total * self._loss_scale(sw, X.shape[1], seq, code, state)

    def __repr__(self):
        extra = f", activation={self.activation!r}" if self.cell == "rnn" else ""
        if self.num_embeddings:
            extra += (f", num_embeddings={self.num_embeddings}, "
                      f"embedding_dim={self.embedding_dim}")
        if self.static_size:
            extra += f", static_size={self.static_size}"
        return (
            f"Network(cell={self.cell!r}, input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
            f"output_size={self.output_size}{extra}, dtype={np.dtype(self.dtype).name})"
        )
