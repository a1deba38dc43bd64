"""``EncoderDecoder``: an encoder network over a window and a decoder network over the
steps after it, trained end to end; the model of ``RNNForecaster(strategy="seq2seq")``.

The encoder is a headless :class:`~tsrnn._engine.network.Network` (``output_size``
0) that reads the window; its final state is the decoder's initial state; the
decoder reads one input vector per step to forecast (the future-known covariates
of that step) and emits that step's outputs.  Both live in one flat parameter
vector, so that the training loop (:mod:`tsrnn._engine.training`), the optimizers
and the model files treat the pair as one network.

Data reach it *packed*: one array ``(n, T_enc + T_dec, C)`` whose first
``T_enc`` steps are the window and whose last ``T_dec`` steps are the decoder's
steps.  The encoder reads the first ``encoder_inputs`` channels of the window's
steps, the decoder the last ``decoder_inputs`` channels of its steps (a channel
may be read by both, as a calendar is; entries neither reads are ignored).  Its
outputs are the decoder's, flattened step-major to ``(n, 1, T_dec * K)``, which is
how the estimators hold a direct forecaster's ``horizon * targets`` outputs: to
them it is a many-to-one network, and the per-step loss mean equals theirs.

Backpropagation runs the decoder's BPTT first, whose gradient of its initial
state then enters the encoder's at its last step (``Network``'s ``hN_grad``).  The
encoder runs forward twice per minibatch (once for its final state, once inside
its own BPTT): the kernels do not split a forward from its backward pass.
"""

from __future__ import annotations

import numpy as np

from tsrnn._engine import sequences, threads
from tsrnn._engine.inputs import check_groups, check_masks, check_quantiles_for, check_sample_weight
from tsrnn._engine.kernels.losses import CODES as LOSS_CODES
from tsrnn._engine.kernels.losses import CROSS_ENTROPY, loss_rows
from tsrnn._engine.network import Network
from tsrnn._engine.plan import count_params, fresh, plan_bytes
from tsrnn._validation import (
    as_float_array,
    check_allocation,
    check_choice,
    check_float,
    check_int,
    check_n_jobs,
    check_random_state,
)

__all__ = ["EncoderDecoder"]


class EncoderDecoder:
    """An encoder :class:`~tsrnn._engine.network.Network` and a decoder one in a flat vector.

    Parameters
    ----------
    cell, hidden_size, num_layers, activation, dtype, init
        As :class:`~tsrnn._engine.network.Network`, for both networks.
    input_size : int
        Channels of the packed input (C).
    output_size : int
        All outputs, ``decoder_steps * K``: the decoder's head has K.
    decoder_steps : int
        Steps the decoder runs (the last ``decoder_steps`` of the packed input).
    encoder_inputs, decoder_inputs : int
        The encoder reads channels ``[0, encoder_inputs)``, the decoder
        ``[input_size - decoder_inputs, input_size)``.
    random_state : int, RandomState or None
        Seeds both networks' initial weights (the encoder's drawn first).
    num_embeddings, embedding_dim : int, default=0
        A learned vector per group, fed to the encoder (as ``Network``'s).
    static_size : int, default=0
        The last ``static_size`` of the encoder's channels are static inputs
        that set its initial state (``Network``'s ``static_size``).
    feedback : int, default=0
        The decoder also reads the first ``feedback`` channels of its steps,
        which hold the previous step's values of its first ``feedback``
        outputs: the true values in training (teacher forcing), its own
        outputs when predicting (one step at a time, mapped to the channels'
        units by :meth:`set_feedback_units`).

    Attributes
    ----------
    encoder, decoder : Network
        Views into :attr:`params` (the encoder's ``head`` is empty).
    params : ndarray of shape (n_params,)
    """

    def __init__(self, cell, input_size, hidden_size, num_layers, output_size, *,
                 decoder_steps, encoder_inputs, decoder_inputs, activation="tanh",
                 dtype=np.float32, random_state=None, init="pytorch", num_embeddings=0,
                 embedding_dim=0, static_size=0, feedback=0):
        config = dict(cell=cell, input_size=input_size, hidden_size=hidden_size,
                      num_layers=num_layers, output_size=output_size,
                      decoder_steps=decoder_steps, encoder_inputs=encoder_inputs,
                      decoder_inputs=decoder_inputs, activation=activation, init=init,
                      num_embeddings=num_embeddings, embedding_dim=embedding_dim,
                      static_size=static_size, feedback=feedback)
        enc_kw, dec_kw = self._configure(dtype=dtype, **config)
        check_plan(self.config, self.dtype)
        rng = check_random_state(random_state)
        # drawn one after the other from one generator: both differ, both reproducible
        enc = Network(**enc_kw, dtype=dtype, random_state=rng)
        dec = Network(**dec_kw, dtype=dtype, random_state=rng)
        self.params = np.concatenate([enc.params, dec.params])
        self._wrap()

    @classmethod
    def _with_params(cls, params, *, dtype, **config):
        """A model of the given layout holding ``params`` (not copied), for model files."""
        self = cls.__new__(cls)
        self._configure(dtype=dtype, **config)
        ok = isinstance(params, np.ndarray) and params.shape == (self.n_params,) and \
            params.dtype == np.dtype(self.dtype) and params.flags.c_contiguous and \
            params.flags.writeable
        if not ok:
            raise ValueError(f"`params` must be a writeable contiguous {np.dtype(self.dtype)} "
                             f"vector of the layout's {self.n_params} parameters, got "
                             f"{getattr(params, 'dtype', type(params).__name__)} of shape "
                             f"{getattr(params, 'shape', None)}.")
        self.params = params
        self._wrap()
        return self

    def _configure(self, *, cell, input_size, hidden_size, num_layers, output_size,
                   decoder_steps, encoder_inputs, decoder_inputs, activation, dtype, init,
                   num_embeddings, embedding_dim, static_size=0, feedback=0):
        C = check_int("input_size", input_size)
        steps = check_int("decoder_steps", decoder_steps)
        O = check_int("output_size", output_size)
        if O % steps:
            raise ValueError(f"`output_size`={O} must be a multiple of `decoder_steps`="
                             f"{steps} (the decoder emits the same outputs at every step).")
        for name, value in (("encoder_inputs", encoder_inputs),
                            ("decoder_inputs", decoder_inputs)):
            if check_int(name, value) > C:
                raise ValueError(f"`{name}`={value} exceeds the `input_size`={C} channels.")
        self.input_size, self.output_size, self.decoder_steps = C, O, steps
        self.encoder_inputs, self.decoder_inputs = int(encoder_inputs), int(decoder_inputs)
        self.feedback = check_int("feedback", feedback, low=0)
        if self.feedback > min(O // steps, C - self.decoder_inputs):
            raise ValueError(f"`feedback`={feedback} must be at most the decoder's {O // steps} "
                             f"outputs per step and the {C - self.decoder_inputs} channels "
                             "before its own.")
        S = check_int("static_size", static_size, low=0)
        if S >= encoder_inputs:
            raise ValueError(f"`static_size`={S} must be below `encoder_inputs`="
                             f"{encoder_inputs} (the static inputs are the encoder's last).")
        enc_kw, dec_kw = sub_layouts(dict(
            cell=cell, hidden_size=hidden_size, num_layers=num_layers, output_size=O,
            decoder_steps=steps, encoder_inputs=encoder_inputs, decoder_inputs=decoder_inputs,
            activation=activation, init=init, num_embeddings=num_embeddings,
            embedding_dim=embedding_dim, static_size=S, feedback=self.feedback))
        # layouts only (checked as Network checks them): nothing drawn or allocated
        self._kw = (enc_kw, dec_kw)
        probe_e = Network.__new__(Network)
        probe_e._configure(**{**enc_kw, "dtype": dtype})
        probe_d = Network.__new__(Network)
        probe_d._configure(**{**dec_kw, "dtype": dtype})
        self.cell, self.hidden_size, self.num_layers = probe_e.cell, probe_e.hidden_size, \
            probe_e.num_layers
        self.activation, self.init, self.dtype = probe_e.activation, probe_e.init, probe_e.dtype
        self.num_embeddings, self.embedding_dim = probe_e.num_embeddings, probe_e.embedding_dim
        self.static_size = S
        # feedback in the input channels' units: a * output + b per decoder step and output
        self.feedback_scale = np.ones((max(steps - 1, 0), self.feedback))
        self.feedback_shift = np.zeros((max(steps - 1, 0), self.feedback))
        self._n_enc = probe_e.n_params
        self.n_params = probe_e.n_params + probe_d.n_params
        return enc_kw, dec_kw

    def __getstate__(self):
        # the two networks are views into params: rebuilt on unpickling, so that a copy
        # (a worker's result, a deepcopy) does not train one array and predict with another
        return {k: v for k, v in vars(self).items() if k not in ("encoder", "decoder")}

    def __setstate__(self, state):
        vars(self).update(state)
        self._wrap()

    def _wrap(self):
        enc_kw, dec_kw = self._kw
        self.encoder = Network._with_params(self.params[:self._n_enc], **enc_kw,
                                            dtype=self.dtype)
        self.decoder = Network._with_params(self.params[self._n_enc:], **dec_kw,
                                            dtype=self.dtype)

    def set_feedback_units(self, scale, shift):
        """How an output becomes the next step's input: ``scale * output + shift``,
        arrays ``(decoder_steps - 1, feedback)`` (decoder step ``j + 1`` reads row
        ``j``), for outputs and inputs standardised apart."""
        shape = self.feedback_scale.shape
        for name, v in (("scale", scale), ("shift", shift)):
            a = np.asarray(v, np.float64)
            if a.shape != shape or not np.isfinite(a).all():
                raise ValueError(f"`{name}` must be finite of shape {shape}, got "
                                 f"{a.shape}.")
        self.feedback_scale = np.array(scale, np.float64)
        self.feedback_shift = np.array(shift, np.float64)

    @property
    def config(self):
        """The layout's arguments (what a model file stores beside the parameters)."""
        return dict(cell=self.cell, input_size=self.input_size, hidden_size=self.hidden_size,
                    num_layers=self.num_layers, output_size=self.output_size,
                    decoder_steps=self.decoder_steps, encoder_inputs=self.encoder_inputs,
                    decoder_inputs=self.decoder_inputs, activation=self.activation,
                    init=self.init, num_embeddings=self.num_embeddings,
                    embedding_dim=self.embedding_dim, static_size=self.static_size,
                    feedback=self.feedback)

    @staticmethod
    def count_params(**config):
        """Length of the flat vector of a layout (closed form, nothing built)."""
        return sum(count_params(**_sized(kw)) for kw in sub_layouts(config))

    @property
    def weight_mask(self):
        """Where an L2 penalty applies (both networks' weight matrices)."""
        return np.concatenate([self.encoder.weight_mask, self.decoder.weight_mask])

    @property
    def embedding(self):
        """View of the encoder's embedding table, (num_embeddings, embedding_dim)."""
        return self.encoder.embedding

    def state_dict(self):
        """Parameters by name: the encoder's prefixed ``encoder.`` (its empty head left
        out), the decoder's ``decoder.``, each as its Network names them (copies)."""
        out = {f"encoder.{k}": v for k, v in self.encoder.state_dict().items()
               if not k.startswith("head.")}
        out.update({f"decoder.{k}": v for k, v in self.decoder.state_dict().items()})
        return out

    def _check_plan(self, **training):
        """:func:`check_plan` for this model's layout."""
        check_plan(self.config, self.dtype, **training)

    # --------------------------------------------------------------- compute
    def _check_shape(self, shape):
        n, T, C = shape
        if n < 1 or C != self.input_size or T <= self.decoder_steps:
            raise ValueError(f"`X` must have shape (n, T, {self.input_size}) with n >= 1 and "
                             f"T > {self.decoder_steps} (the window, then the decoder's "
                             f"steps); got {shape}.")

    def _checked(self, X, groups, n_jobs):
        X = as_float_array("X", X, self.dtype, ndims=(3,))
        self._check_shape(X.shape)
        return (np.ascontiguousarray(X), check_groups(self, groups, len(X)),
                threads.resolve_n_jobs(check_n_jobs(n_jobs)))

    def forward(self, X, n_jobs=None, groups=None):
        """The decoder's outputs at each of its steps.

        Parameters
        ----------
        X : array-like of shape (n, T_enc + decoder_steps, input_size)
            Packed windows (see the module's description).
        n_jobs : int or None, default=None
            Threads for the batch chunks; the result is bitwise the same for any value.
        groups : array-like of int of shape (n,), optional
            Each window's embedding row (with ``num_embeddings``).

        Returns
        -------
        ndarray of shape (n, decoder_steps, output_size // decoder_steps)
        """
        X, groups, n_threads = self._checked(X, groups, n_jobs)
        with threads.blas_single_thread():
            out = self._kernel_predict(X, False, n_threads, groups)
        return out.reshape(len(X), self.decoder_steps, -1).copy()

    def loss_grad(self, X, Y, loss="squared_error", *, sample_weight=None, bptt_steps=None,
                  quantiles=None, huber_delta=1.0, dropout_masks=None, n_jobs=None,
                  groups=None):
        """Loss of a batch of packed windows and the gradient of every parameter.

        Parameters
        ----------
        X : array-like of shape (n, T_enc + decoder_steps, input_size)
        Y : array-like of shape (n, decoder_steps, K) or (n, decoder_steps * K)
            Each decoder step's targets (K per step; for ``"quantile"`` the head
            has ``K * len(quantiles)`` outputs per step).
        loss, sample_weight, quantiles, huber_delta, n_jobs, groups
            As :meth:`Network.loss_grad` (the mean runs over samples, decoder
            steps and outputs).
        bptt_steps : int, optional
            Truncates the encoder's BPTT, counted back from the window's last
            step; the decoder's gradient always reaches the encoder.
        dropout_masks : array-like of shape (num_layers - 1, n, T, hidden_size), optional
            Over the packed steps: the encoder's first, then the decoder's.

        Returns
        -------
        loss : float
        grads : dict of str to ndarray
            Keyed as :meth:`state_dict`.
        """
        X, groups, n_threads = self._checked(X, groups, n_jobs)
        check_choice("loss", loss, tuple(LOSS_CODES))
        n, T, _ = X.shape
        qs = check_quantiles_for(self.decoder, quantiles, loss)
        delta = check_float("huber_delta", huber_delta, low=0, low_open=True)
        trunc = sequences.truncation(check_int("bptt_steps", bptt_steps, allow_none=True),
                                     T - self.decoder_steps)
        per_step = self.decoder.output_size // (len(qs) if loss == "quantile" else 1)
        Y = as_float_array("Y", Y, self.dtype, ndims=(2, 3))
        if len(Y) != n or Y.reshape(n, -1).shape[1:] != (self.decoder_steps * per_step,):
            raise ValueError(f"`Y` must have shape ({n}, {self.decoder_steps}, {per_step}) "
                             f"or ({n}, {self.decoder_steps * per_step}), got {Y.shape}.")
        Y = np.ascontiguousarray(Y.reshape(n, 1, -1))
        sw = check_sample_weight(self, sample_weight, n)
        masks = check_masks(self, dropout_masks, X)
        with threads.blas_single_thread():
            value, grad, _ = self._kernel_loss_grad(X, Y, sw, LOSS_CODES[loss], qs, delta,
                                                    False, trunc, masks, False, n_threads,
                                                    groups)
        views = {**{f"encoder.{k}": v for k, v in self.encoder._views(grad[:self._n_enc])
                    .items() if not k.startswith("head.")},
                 **{f"decoder.{k}": v for k, v in self.decoder._views(grad[self._n_enc:])
                    .items()}}
        return value, {k: v.copy() for k, v in views.items()}

    def _split(self, X, get):
        """The encoder's and the decoder's inputs of packed ``X``, copied into ``get``'s
        buffers (the kernels take contiguous arrays)."""
        self._check_shape(X.shape)
        n, T, C = X.shape
        Te, F = T - self.decoder_steps, self.feedback
        Xe = get("s2s_xe", (n, Te, self.encoder_inputs), X.dtype)
        Xd = get("s2s_xd", (n, self.decoder_steps, F + self.decoder_inputs), X.dtype)
        Xe[...] = X[:, :Te, :self.encoder_inputs]
        Xd[:, :, :F] = X[:, Te:, :F]
        Xd[:, :, F:] = X[:, Te:, C - self.decoder_inputs:]
        return Xe, Xd

    def _check_batch(self, state, seq):
        if seq or not (state.lengths is None and state.empty):
            raise ValueError("An encoder-decoder takes fixed-length packed windows and "
                             "predicts its decoder's steps (no lengths, states or per-step "
                             "head of its own).")

    def _final_state(self, Xe, n_threads, groups, get, masks=None):
        """The encoder's state after the window (under the dropout ``masks`` its BPTT
        will use): ``(h_n, c_n)``, ``c_n`` None but for an LSTM."""
        shape = (self.num_layers, len(Xe), self.hidden_size)
        state = sequences.Batch(hN=get("s2s_hN", shape, self.dtype),
                                cN=get("s2s_cN", shape, self.dtype) if self.cell == "lstm"
                                else None)
        self.encoder._kernel_predict(Xe, False, n_threads, groups, _sub(get, "enc."), state,
                                     masks)
        return state.hN, state.cN

    def _kernel_predict(self, X, seq, n_threads, groups=None, workspace=None,
                        state=sequences.NO_BATCH):
        """Outputs ``(n, 1, decoder_steps * K)`` of validated packed ``X``."""
        self._check_batch(state, seq)
        get = fresh if workspace is None else workspace.get
        Xe, Xd = self._split(X, get)
        h, c = self._final_state(Xe, n_threads, groups, get)
        if self.feedback:
            return self._generate(Xd, h, c, n_threads, get)
        out = self.decoder._kernel_predict(Xd, True, n_threads, None, _sub(get, "dec."),
                                           sequences.Batch(h0=h, c0=c))
        return out.reshape(len(X), 1, self.output_size)

    def _generate(self, Xd, h, c, n_threads, get):
        """The decoder run one step at a time, each step fed its previous step's outputs
        (mapped to the input channels' units); the first step reads what ``Xd`` holds
        there (the last observed values).  Training feeds the true values instead
        (teacher forcing): see :meth:`_kernel_loss_grad`."""
        n, Td, _ = Xd.shape
        F, K = self.feedback, self.decoder.output_size
        out = get("s2s_gen", (n, Td, K), self.dtype)
        step = get("s2s_step", (n, 1, Xd.shape[2]), self.dtype)
        cur = (h, c)
        nxt = (get("s2s_h1", h.shape, self.dtype),
               None if c is None else get("s2s_c1", c.shape, self.dtype))
        for j in range(Td):
            step[:, 0] = Xd[:, j]
            if j:
                step[:, 0, :F] = self.feedback_scale[j - 1] * out[:, j - 1, :F] + \
                    self.feedback_shift[j - 1]
            state = sequences.Batch(h0=cur[0], c0=cur[1], hN=nxt[0], cN=nxt[1])
            out[:, j] = self.decoder._kernel_predict(step, True, n_threads, None,
                                                     _sub(get, "dec."), state)[:, 0]
            cur, nxt = nxt, cur
        return out.reshape(n, 1, self.output_size)

    def _kernel_loss_grad(self, X, Y, sw, code, qs, delta, seq, trunc, masks=None,
                          want_dx=False, n_threads=1, groups=None, workspace=None,
                          state=sequences.NO_BATCH):
        """Loss and flat gradient, as :meth:`Network._kernel_loss_grad`, for packed ``X``
        and ``Y`` ``(n, 1, decoder_steps * K)``.  ``trunc`` truncates the encoder's BPTT
        (counted from the window's last step); the decoder's steps always pass their
        gradient back to the encoder."""
        self._check_batch(state, seq)
        if want_dx:
            raise ValueError("An encoder-decoder does not return input gradients.")
        if code == CROSS_ENTROPY:
            raise ValueError("An encoder-decoder forecasts values; `loss`='cross_entropy' "
                             "is not available.")
        get = fresh if workspace is None else workspace.get
        n, T, _ = X.shape
        Te, Td = T - self.decoder_steps, self.decoder_steps
        Xe, Xd = self._split(X, get)
        me = md = None
        if masks is not None and masks.size:
            # the encoder's and the decoder's steps, in the fit's buffers (no allocation
            # per minibatch)
            me = get("s2s_me", masks[:, :, :Te].shape, masks.dtype)
            md = get("s2s_md", masks[:, :, Te:].shape, masks.dtype)
            np.copyto(me, masks[:, :, :Te])
            np.copyto(md, masks[:, :, Te:])
        h, c = self._final_state(Xe, n_threads, groups, get, me)
        shape = h.shape
        dec_state = sequences.Batch(h0=h, c0=c, dh0=get("s2s_dh0", shape, self.dtype),
                                    dc0=get("s2s_dc0", shape, self.dtype) if c is not None
                                    else None)
        Yd = np.ascontiguousarray(Y.reshape(n, Td, -1))
        loss, g_dec, _ = self.decoder._kernel_loss_grad(
            Xd, Yd, sw, code, qs, delta, True, Td + 1, md, False, n_threads, None,
            _sub(get, "dec."), dec_state)
        enc_state = sequences.Batch(hN_grad=dec_state.dh0, cN_grad=dec_state.dc0)
        _, g_enc, _ = self.encoder._kernel_loss_grad(
            Xe, get("s2s_none", (n, 1, 0), self.dtype), sw, code, qs, delta, False,
            min(int(trunc), Te + 1), me, False, n_threads, groups, _sub(get, "enc."),
            enc_state)
        grad = get("grad", (self.n_params,), self.dtype)
        grad[:self._n_enc] = g_enc
        grad[self._n_enc:] = g_dec
        return loss, grad, np.empty((0, T, self.input_size), self.dtype)

    def _kernel_loss(self, X, Y, sw, code, qs, delta, seq, n_threads=1, groups=None,
                     workspace=None, state=sequences.NO_BATCH):
        """Loss only (forward passes), as :meth:`Network._kernel_loss`."""
        P = self._kernel_predict(X, seq, n_threads, groups, workspace, state)
        n, O = len(X), self.output_size
        rows = float(sw.sum(dtype=np.float64))
        if rows <= 0:
            raise ValueError("The weights leave no step with a positive weight.")
        dP = np.empty((n, O), P.dtype)
        total = loss_rows(P.reshape(n, O), np.ascontiguousarray(Y.reshape(n, -1)), sw, code,
                          qs, delta, 1.0, dP)
        return total / (rows * O)

    def __repr__(self):
        return (f"EncoderDecoder(cell={self.cell!r}, input_size={self.input_size}, "
                f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"decoder_steps={self.decoder_steps}, encoder_inputs={self.encoder_inputs}, "
                f"decoder_inputs={self.decoder_inputs}, output_size={self.output_size}, "
                + (f"feedback={self.feedback}, " if self.feedback else "") +
                f"dtype={np.dtype(self.dtype).name})")


def feedback_units(decoder_steps, feedback, outputs, x_mean, x_std, y_mean, y_std):
    """``(scale, shift)`` of :meth:`EncoderDecoder.set_feedback_units` for outputs
    standardised as their target columns (``y_mean``/``y_std``, ``decoder_steps *
    outputs`` columns step-major) fed to input channels standardised as ``x_mean``/
    ``x_std`` (the first ``feedback`` channels): decoder step ``j``'s output ``k`` is
    column ``j * outputs + k``, read by step ``j + 1``."""
    cols = np.arange(decoder_steps - 1)[:, None] * outputs + np.arange(feedback)[None, :]
    x_mean, x_std = np.asarray(x_mean)[:feedback], np.asarray(x_std)[:feedback]
    y_mean, y_std = np.asarray(y_mean), np.asarray(y_std)
    return y_std[cols] / x_std, (y_mean[cols] - x_mean) / x_std


def sub_layouts(config):
    """The ``Network`` arguments (all but ``dtype``) of the encoder and of the decoder of
    an encoder-decoder layout ``config``: the encoder headless, reading the first
    ``encoder_inputs`` channels (its last ``static_size`` as static inputs); the decoder
    reading ``feedback + decoder_inputs`` channels, with the outputs of one step."""
    # activation and init as given (sizes and memory plans do without them)
    common = {k: config[k] for k in ("cell", "hidden_size", "num_layers", "activation",
                                     "init") if k in config}
    S, F = int(config.get("static_size", 0)), int(config.get("feedback", 0))
    enc = dict(common, input_size=int(config["encoder_inputs"]) - S, output_size=0,
               num_embeddings=config.get("num_embeddings", 0),
               embedding_dim=config.get("embedding_dim", 0), static_size=S)
    dec = dict(common, input_size=F + int(config["decoder_inputs"]),
               output_size=int(config["output_size"]) // int(config["decoder_steps"]),
               num_embeddings=0, embedding_dim=0)
    return enc, dec


def _sized(kw):
    """A network's arguments as the size functions of ``tsrnn._engine.plan`` take them."""
    return {k: v for k, v in kw.items() if k not in ("activation", "init")}


def read_mask(config, steps):
    """(steps, input_size) bool: which entries of a packed window of ``steps`` steps the
    layout ``config`` reads (its scaling statistics count those only)."""
    C, Td = config["input_size"], config["decoder_steps"]
    read = np.zeros((steps, C), bool)
    read[:steps - Td, :config["encoder_inputs"]] = True
    read[steps - Td:, C - config["decoder_inputs"]:] = True
    read[steps - Td:, :config.get("feedback", 0)] = True
    return read


def check_plan(config, dtype, *, batch=0, steps=0, targets=1, dropout=False, n_threads=1,
               **_):
    """Refuse an encoder-decoder of layout ``config``, or its training on minibatches of
    ``batch`` packed windows of ``steps`` steps, beyond the memory budget (both networks'
    plans together; arguments as :func:`tsrnn._engine.plan.plan_bytes`)."""
    Td = check_int("decoder_steps", config["decoder_steps"])
    Te = max(int(steps) - Td, 0) if batch else 0
    enc, dec = (_sized(kw) for kw in sub_layouts(config))
    common = dict(dtype=dtype, batch=batch, dropout=dropout, n_threads=n_threads)
    total = plan_bytes(**enc, steps=Te, targets=0, **common) + \
        plan_bytes(**dec, steps=Td if batch else 0, targets=max(int(targets) // Td, 1),
                   seq=True, **common)
    n_params = EncoderDecoder.count_params(**config)
    what = (f"An encoder-decoder {config['cell'].upper()} with `hidden_size`="
            f"{config['hidden_size']} and `num_layers`={config['num_layers']} "
            f"({n_params:,} parameters")
    what += f"), trained on minibatches of {batch} windows," if batch else ")"
    check_allocation(what, total)


def _sub(get, prefix):
    """A workspace view whose buffers are named apart (the encoder's and the decoder's
    calls each keep their own scratch, gradient and outputs)."""
    if get is fresh:
        return None
    return _Prefixed(get, prefix)


class _Prefixed:
    __slots__ = ("_get", "_prefix")

    def __init__(self, get, prefix):
        self._get, self._prefix = get, prefix

    def get(self, name, shape, dtype):
        return self._get(self._prefix + name, shape, dtype)
