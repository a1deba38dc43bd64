"""ONNX export: :func:`export_onnx` writes a fitted network as an ONNX graph.

The recurrent layers become ONNX's own ``RNN``/``LSTM``/``GRU`` operators (one
per stacked layer), and everything the estimator does around the network — the
input standardisation, the linear head, the output de-standardisation, the
softmax and the labels of a classifier, the sorted quantiles of a quantile
regressor, a forecaster's output limits — becomes graph nodes, so that
``onnxruntime`` (or any ONNX runtime) predicts what tsrnn predicts without
tsrnn.  The ``onnx`` package is imported only here, on use.
"""

from __future__ import annotations

import numbers
import os

import numpy as np
from sklearn.utils.validation import check_is_fitted

from tsrnn._engine.network import Network
from tsrnn._persist_io import write_atomic
from tsrnn._validation import check_dtype
from tsrnn._version import __version__
from tsrnn.estimators import RNNClassifier, RNNRegressor
from tsrnn.forecasting import RNNForecaster

__all__ = ["export_onnx"]

# ONNX's gate blocks from PyTorch's: LSTM i, f, g, o -> i, o, f, c; GRU r, z, n -> z, r, h.
_GATES = {"rnn": [0], "lstm": [0, 3, 1, 2], "gru": [1, 0, 2]}
_OPS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
# 14: the first opset with the recurrent operators' current form (and Squeeze's axes input)
MIN_OPSET = 14


def export_onnx(model, path=None, *, dtype=None, lengths=False, opset=17):
    """Write a fitted network as an ONNX model, with its scaling and head as graph nodes.

    The recurrent layers are ONNX's ``RNN``, ``LSTM`` or ``GRU`` operators, one
    per stacked layer; the input standardisation, the linear head and what the
    estimator makes of its outputs are graph nodes around them, so an ONNX
    runtime predicts what the model predicts (within float32 rounding).

    Parameters
    ----------
    model : RNNRegressor, RNNClassifier or RNNForecaster
        A fitted model.  For an :class:`~tsrnn.RNNForecaster` its network, the
        fitted ``estimator_`` (an :class:`~tsrnn.RNNRegressor`) with the
        forecaster's output limits (``clip_outputs``), is exported: it maps the
        windows the forecaster makes to the values it turns into forecasts
        (see Notes).
    path : str or os.PathLike, optional
        Where to write the model (conventionally ``.onnx``); written whole or
        not at all, replacing a previous file.  None: nothing is written.
    dtype : numpy.float32 or numpy.float64, optional
        Type of the graph's inputs and outputs, in which the scaling is
        computed; by default the network's ``dtype``.  The recurrent layers and
        the head always compute in float32, the only type ONNX Runtime
        implements them in (a float64 network's weights are rounded to it).
    lengths : bool, default=False
        Add an input ``lengths`` (int32, one per sequence) for batches of
        sequences of different lengths, padded at the end (with NaN, as tsrnn
        reads them, or any other value): each runs to its own length, as
        :meth:`~tsrnn.RNNRegressor.predict` runs a list of sequences.
    opset : int, default=17
        ONNX operator set of the graph, at least 14.

    Returns
    -------
    onnx.ModelProto
        The model, checked by ``onnx.checker.check_model``.

    Raises
    ------
    TypeError
        If ``model`` is not one of the above (or a forecaster's estimator is not
        an :class:`~tsrnn.RNNRegressor`), or an argument has the wrong type.
    ValueError
        If ``dtype`` or ``opset`` is out of range, or ``path`` cannot be written
        (a directory, a missing directory).
    NotImplementedError
        For networks the ONNX operators cannot express: encoder-decoders
        (``strategy="seq2seq"``), static covariates' initial-state layer
        (``static_covariates``) and learned series embeddings
        (``series_encoding="embedding"``).
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.
    ImportError
        If ``onnx`` is not installed (``pip install tsrnn[onnx]``).

    See Also
    --------
    tsrnn.save : tsrnn's own model files, for every model.

    Notes
    -----
    The graph's input ``X`` is ``(batch, time, channels)`` in ``dtype``: raw
    windows as the estimator's ``predict`` takes them in 3-D (2-D windows
    ``(n, time * channels)`` are ``X.reshape(n, time, channels)``), of any length.
    A model fitted on a 2-D layout that is not time-major (a client's lags newest
    first, per-sample columns read as constant channels; see ``lag_order``) takes
    ``X`` as ``(batch, n_features_in_)`` in that layout instead.  Its outputs:

    - :class:`~tsrnn.RNNRegressor`: ``prediction``, shaped as ``predict``'s
      (``(batch,)`` or ``(batch, n_outputs)``; ``(batch, time[, n_outputs])``
      with ``output="sequence"``), in the units of ``y``; with
      ``loss="quantile"`` also ``quantiles``, as ``predict_quantiles``'s
      (sorted along the levels ``quantiles_``).
    - :class:`~tsrnn.RNNClassifier`: ``probabilities`` ``(batch[, time],
      n_classes)`` as ``predict_proba``'s (columns ``classes_``) and ``label``
      as ``predict``'s.  With ``output="sequence"`` and ``lengths`` the labels
      past a length would be the padding's, so the graph has no ``label``
      (take the most probable class of each real step).
    - :class:`~tsrnn.RNNForecaster`: ``prediction`` ``(batch, horizon *
      n_targets)`` (one step ahead ``(batch, channels)`` for
      ``strategy="recursive"``), output ``j * n_targets + k`` forecasting
      target ``k`` at step ``j + 1``, and ``quantiles`` with quantile heads.
      The windows are the forecaster's: ``lags_`` steps of the targets, past
      covariates, future-known covariates (read ``horizon`` steps ahead, one
      step for ``strategy="recursive"``) and
      series channels, in the forecaster's units — relative to each window's
      reference (``window_norm``), seasonally adjusted or on a log scale when
      the forecaster is — and so are the outputs, before the forecaster adds
      the reference back.  With ``window_norm=None`` and no log scale, a
      single series' windows are its raw values and the outputs its forecasts.

    With ``lengths`` and ``output="sequence"``, the outputs past each length
    are NaN, as tsrnn's for a NaN-padded array.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> import tsrnn
    >>> X = np.random.default_rng(0).normal(size=(32, 6, 2)).astype(np.float32)
    >>> reg = tsrnn.RNNRegressor(hidden_size=4, max_iter=2, random_state=0)
    >>> reg = reg.fit(X, X[:, -1, 0])
    >>> onx = tsrnn.export_onnx(reg)
    >>> sess = ort.InferenceSession(onx.SerializeToString(),
    ...                             providers=["CPUExecutionProvider"])
    >>> pred = sess.run(["prediction"], {"X": X})[0]
    >>> bool(np.abs(pred - reg.predict(X)).max() < 1e-5)
    True
    """
    onnx = _import_onnx()
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path`={path!r} must be a str, an os.PathLike or None.")
    if not isinstance(lengths, (bool, np.bool_)):
        raise TypeError(f"`lengths`={lengths!r} must be a bool.")
    opset = _check_opset(onnx, opset)
    est, bounds = _network_of(model)
    net = est.network_
    _check_exportable(net, model)
    io = np.dtype(check_dtype("dtype", net.dtype if dtype is None else dtype))
    g = _Graph(onnx, io)
    seq = est.output_ == "sequence"
    cols = getattr(est, "_window_columns", None)
    if cols is not None and lengths:
        raise ValueError("`lengths`=True is for sequences; the model was fitted on 2-D "
                         "windows of one length (read from a client's column layout).")
    if cols is None:
        x = g.input("X", io, ["batch", "time", net.input_size])
    else:
        # fitted on a client's 2-D layout (lags newest first, per-sample columns): the
        # graph takes those columns and gathers the time-ordered window, as predict does
        x = g.node("Gather", [g.input("X", io, ["batch", est.n_features_in_]),
                              g.const(cols.astype(np.int64), "window_columns")], axis=1)
    lens = g.input("lengths", np.dtype(np.int32), ["batch"]) if lengths else ""
    h = _recurrent(g, net, _scaled(g, est, x, bool(lengths)), lens, seq)
    logits = _head(g, net, h, seq)
    mask = _step_mask(g, x, lens) if lengths and seq else None
    if isinstance(est, RNNClassifier):
        _classifier_outputs(g, est, logits, mask)
    else:
        _regressor_outputs(g, est, logits, mask, bounds)
    graph = onnx.helper.make_graph(g.nodes, f"tsrnn_{type(model).__name__}", g.inputs,
                                   g.outputs, g.initializers)
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(
        graph, opset_imports=opsets, producer_name="tsrnn", producer_version=__version__,
        ir_version=onnx.helper.find_min_ir_version_for(opsets),
        doc_string=f"{type(model).__name__} ({net!r}) exported by tsrnn {__version__}")
    onnx.helper.set_model_props(proto, {"tsrnn_model": type(model).__name__,
                                        "tsrnn_network": repr(net)})
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        payload = proto.SerializeToString()
        write_atomic(path, lambda fh: fh.write(payload))
    return proto


def _import_onnx():
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as err:
        raise ImportError("export_onnx needs the `onnx` package: pip install 'tsrnn[onnx]' "
                          "(onnx, and onnxruntime to run the exported model).") from err
    return onnx


def _check_opset(onnx, opset):
    top = onnx.defs.onnx_opset_version()
    if isinstance(opset, (bool, np.bool_)) or not isinstance(opset, numbers.Integral):
        raise TypeError(f"`opset`={opset!r} must be an int from {MIN_OPSET} to {top}.")
    if not MIN_OPSET <= opset <= top:
        raise ValueError(f"`opset`={opset!r} must be from {MIN_OPSET} (the recurrent "
                         f"operators' current form) to {top} (the installed onnx's newest).")
    return int(opset)


def _network_of(model):
    """(fitted RNNRegressor or RNNClassifier, output limits or None) of ``model``."""
    if isinstance(model, type):
        raise TypeError(f"`model`={model.__name__} is a class; pass a fitted instance.")
    if isinstance(model, (RNNRegressor, RNNClassifier)):
        check_is_fitted(model, "network_")
        return model, None
    if isinstance(model, RNNForecaster):
        check_is_fitted(model, "estimator_")
        est = model.estimator_
        if not isinstance(est, RNNRegressor):
            raise TypeError(f"The forecaster's estimator is {est!r}; export_onnx exports an "
                            "RNNRegressor's network (convert other scikit-learn estimators "
                            "with their own tools, e.g. skl2onnx).")
        return est, getattr(model, "_output_bounds", None)
    raise TypeError(f"`model` must be a fitted RNNRegressor, RNNClassifier or RNNForecaster, "
                    f"got {type(model).__name__}.")


def _check_exportable(net, model):
    """Refuse the networks the ONNX operators cannot express, naming what they need."""
    what = None
    if not isinstance(net, Network):
        what = ("an encoder-decoder network (strategy='seq2seq'), whose decoder steps "
                "through the horizon from the encoder's final state", "strategy='direct'")
    elif net.static_size:
        what = (f"{net.static_size} static inputs (static_covariates) mapped to the initial "
                "state by a learned layer", "the static values as covariate columns")
    elif net.num_embeddings:
        what = (f"a learned embedding of {net.num_embeddings} series "
                "(series_encoding='embedding')", "series_encoding='onehot'")
    if what is not None:
        raise NotImplementedError(
            f"export_onnx cannot export {type(model).__name__} with {what[0]}: it exports one "
            f"recurrent stack with a linear head. Fit with {what[1]} to export it.")


class _Graph:
    """The nodes, constants, inputs and outputs of the graph being built."""

    def __init__(self, onnx, io):
        self.onnx, self.io = onnx, io
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self._count = 0

    def _name(self, stem):
        self._count += 1
        return f"{stem}_{self._count}"

    def input(self, name, dtype, shape):
        self.inputs.append(self.onnx.helper.make_tensor_value_info(
            name, self.onnx.helper.np_dtype_to_tensor_dtype(dtype), shape))
        return name

    def output(self, value, name, dtype, shape):
        """Name the value ``value`` ``name`` (an Identity) and declare it an output."""
        self.node("Identity", [value], name=name)
        dtype = np.dtype(dtype)
        kind = self.onnx.TensorProto.STRING if dtype == object else \
            self.onnx.helper.np_dtype_to_tensor_dtype(dtype)
        self.outputs.append(self.onnx.helper.make_tensor_value_info(name, kind, shape))

    def const(self, array, stem="c"):
        name = self._name(stem)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, n_out=1, name=None, **attrs):
        outs = [name] if name else [self._name(op.lower()) for _ in range(n_out)]
        self.nodes.append(self.onnx.helper.make_node(op, inputs, outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def cast(self, value, dtype):
        return self.node("Cast", [value],
                         to=self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


def _scaled(g, est, x, padded):
    """The standardised windows, time-major (time, batch, channels) float32."""
    if padded:
        # NaN padding (tsrnn's) must not reach the arithmetic: the operators skip the steps
        # past a length, but a NaN in them would still poison a matrix product
        x = g.node("Where", [g.node("IsNaN", [x]), g.const(np.zeros((), g.io)), x])
    if est._scaled:
        x = g.node("Sub", [x, g.const(est._x_mean.astype(g.io), "x_mean")])
        x = g.node("Div", [x, g.const(est._x_std.astype(g.io), "x_std")])
    if g.io != np.float32:
        x = g.cast(x, np.float32)
    return g.node("Transpose", [x], perm=[1, 0, 2])


def _onnx_blocks(a, cell, H):
    """``a``'s gate blocks (rows of H) from PyTorch's order to ONNX's, in float32."""
    return np.concatenate([a[b * H:(b + 1) * H] for b in _GATES[cell]]).astype(np.float32)


def _recurrent(g, net, x, lens, seq):
    """The stacked layers on ``x`` (time, batch, in): the last layer's outputs (time,
    batch, H) with ``seq``, else its final state (batch, H)."""
    sd, H = net.state_dict(), net.hidden_size
    squeeze_1 = g.const(np.array([1], np.int64))
    attrs = {"hidden_size": H}
    if net.cell == "gru":
        attrs["linear_before_reset"] = 1  # PyTorch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    if net.cell == "rnn":
        attrs["activations"] = ["Relu" if net.activation == "relu" else "Tanh"]
    final = None
    for k in range(net.num_layers):
        W = _onnx_blocks(sd[f"rnn.weight_ih_l{k}"], net.cell, H)[None]
        R = _onnx_blocks(sd[f"rnn.weight_hh_l{k}"], net.cell, H)[None]
        B = np.concatenate([_onnx_blocks(sd[f"rnn.bias_ih_l{k}"], net.cell, H),
                            _onnx_blocks(sd[f"rnn.bias_hh_l{k}"], net.cell, H)])[None]
        Y, final = g.node(_OPS[net.cell], [x, g.const(W, f"W_l{k}"), g.const(R, f"R_l{k}"),
                                           g.const(B, f"B_l{k}"), lens], n_out=2, **attrs)
        x = g.node("Squeeze", [Y, squeeze_1])  # (time, 1 direction, batch, H) -> (time, batch, H)
    return x if seq else g.node("Squeeze", [final, g.const(np.array([0], np.int64))])


def _head(g, net, h, seq):
    """The linear head's outputs (batch[, time], O) float32."""
    sd = net.state_dict()
    W, b = sd["head.weight"].astype(np.float32), sd["head.bias"].astype(np.float32)
    if not seq:
        return g.node("Gemm", [h, g.const(W, "head_W"), g.const(b, "head_b")], transB=1)
    h = g.node("Transpose", [h], perm=[1, 0, 2])
    return g.node("Add", [g.node("MatMul", [h, g.const(np.ascontiguousarray(W.T), "head_WT")]),
                          g.const(b, "head_b")])


def _step_mask(g, x, lens):
    """(batch, time, 1) bool: whether each step is within its sequence's length."""
    steps = g.node("Gather", [g.node("Shape", [x]), g.const(np.array(1, np.int64))])
    t = g.node("Range", [g.const(np.array(0, np.int64)), steps, g.const(np.array(1, np.int64))])
    n = g.node("Unsqueeze", [g.cast(lens, np.int64), g.const(np.array([1], np.int64))])
    return g.node("Unsqueeze", [g.node("Less", [t, n]), g.const(np.array([2], np.int64))])


def _masked(g, value, mask):
    if mask is None:
        return value
    return g.node("Where", [mask, value, g.const(np.array(np.nan, g.io))])


def _classifier_outputs(g, est, logits, mask):
    seq = est.output_ == "sequence"
    lead = ["batch", "time"] if seq else ["batch"]
    K = len(est.classes_)
    proba = g.node("Softmax", [g.cast(logits, g.io)], axis=-1)
    g.output(_masked(g, proba, mask), "probabilities", g.io, lead + [K])
    if mask is not None:
        return  # per-step labels past a length would be the padding's (see export_onnx)
    classes = np.asarray(est.classes_)
    if classes.dtype.kind in "OUS":  # scikit-learn's object labels are strings
        classes = classes.astype(str).astype(object)  # how onnx takes strings
    code = g.node("ArgMax", [logits], axis=-1, keepdims=0)
    label = g.node("Gather", [g.const(classes, "classes"), code])
    g.output(label, "label", classes.dtype, lead)


def _regressor_outputs(g, est, logits, mask, bounds):
    seq = est.output_ == "sequence"
    K = est.n_outputs_
    one = est._y_ndim == 1
    lead = ["batch", "time"] if seq else ["batch"]
    out = g.cast(logits, g.io)
    if est.quantiles_ is None:
        out = g.node("Add", [g.node("Mul", [out, g.const(est._y_std.astype(g.io), "y_std")]),
                             g.const(est._y_mean.astype(g.io), "y_mean")])
        out = _limited(g, _masked(g, out, mask), bounds, (K,))
        if one:
            out = g.node("Squeeze", [out, g.const(np.array([-1], np.int64))])
        g.output(out, "prediction", g.io, lead + ([] if one else [K]))
        return
    levels = np.asarray(est.quantiles_)
    L = len(levels)
    Q = g.node("Reshape", [out, g.const(np.array([0, K, L], np.int64))])
    Q = g.node("Add", [g.node("Mul", [Q, g.const(est._y_std.reshape(1, K, 1).astype(g.io))]),
                       g.const(est._y_mean.reshape(1, K, 1).astype(g.io))])
    # heads trained separately may cross: sorted values, each level taking its rank's
    ascending, _ = g.node("TopK", [Q, g.const(np.array([L], np.int64))], n_out=2, axis=-1,
                          largest=0, sorted=1)
    Q = g.node("Gather", [ascending, g.const(np.argsort(np.argsort(levels)).astype(np.int64))],
               axis=2)
    Q = _limited(g, Q, bounds, (K, 1))
    middle = g.node("Gather", [Q, g.const(np.array(int(np.argmin(np.abs(levels - 0.5))),
                                                   np.int64))], axis=2)
    if one:
        Q = g.node("Squeeze", [Q, g.const(np.array([1], np.int64))])
        middle = g.node("Squeeze", [middle, g.const(np.array([1], np.int64))])
    g.output(middle, "prediction", g.io, lead + ([] if one else [K]))
    g.output(Q, "quantiles", g.io, lead + ([] if one else [K]) + [L])


def _limited(g, value, bounds, shape):
    """``value`` within a forecaster's output limits ``(lo, hi)`` per output (None: as is)."""
    if bounds is None:
        return value
    lo, hi = (np.asarray(b, np.float64).reshape(shape).astype(g.io) for b in bounds)
    return g.node("Min", [g.node("Max", [value, g.const(lo, "lo")]), g.const(hi, "hi")])
