"""What a model file may hold, class by class, checked before anything is built from it.

A loaded state must be one that fitting could have produced: for each class
the parameters (checked by the class's own parameter checks) and the fitted
attributes, each with its type, dtype and shape, and rules tying them together
(the network's inputs to the window's channels, its outputs to the targets and
quantile levels, a forecaster's network to its lags and series).  Unknown
attributes are refused, and a fitted model must have every fitted attribute.
:func:`tsrnn.save` runs the same checks on what it is about to write, so a
file that would not load is never written.

Adding a fitted attribute to a class is one line in its table (``FITTED``);
a field added to :class:`~tsrnn._forecast.series.SeriesState` with a plain
annotation (float, int, bool, str) needs no edit at all.
"""

from __future__ import annotations

import dataclasses
import functools
import types

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset, BusinessDay, CustomBusinessDay

from tsrnn._engine.network import Network
from tsrnn._engine.plan import MAX_LAYERS, count_params
from tsrnn._engine.seq2seq import EncoderDecoder, feedback_units
from tsrnn._ensemble import RNNEnsembleForecaster
from tsrnn._forecast.regressor import window_columns
from tsrnn._forecast.series import SeriesState
from tsrnn._forecast.timeaxis import TimeAxis
from tsrnn._forecast.windows import decoder_layout, estimator_window, is_packed
from tsrnn._persist_checks import (
    NAMES,
    array,
    choice,
    either,
    fail,
    instance,
    integer,
    is_int,
    key,
    list_of,
    name,
    none_or,
    optional,
    real,
    same,
    shape,
)
from tsrnn._validation import check_quantiles
from tsrnn.estimators import RNNClassifier, RNNRegressor
from tsrnn.forecasting import RNNForecaster

CLASSES = {c.__name__: c for c in (RNNRegressor, RNNClassifier, RNNForecaster,
                                   RNNEnsembleForecaster)}
# Plain records of fitted state that may be stored (built from their fields, nothing else).
RECORDS = {c.__name__: c for c in (SeriesState,)}
# The largest layout size a stored network may declare (the kernels index with int64;
# anything near this is far beyond any memory budget anyway).
MAX_SIZE = 1 << 31


# ------------------------------------------------------------------- the parts
def levels(v, where):
    """Quantile levels as fitting keeps them (``check_quantiles``' float64 array)."""
    array("f", ndim=1, dtype=np.float64)(v, where)
    try:
        ok = np.array_equal(check_quantiles(v), v)
    except ValueError:
        ok = False
    if not ok:
        fail(where, v, "must be distinct levels strictly between 0 and 1")


SEED = either(integer(0, 2**32 - 1), instance(np.random.RandomState))
PLAIN_SCALAR = instance(str, int, float, bool, np.generic)


def plain(v, where):
    """A parameter value of a plain kind; its meaning is the class's own check's business."""
    if v is None or isinstance(v, (str, int, float, bool)):
        return
    if isinstance(v, type) and issubclass(v, np.generic):  # dtype=np.float32
        return
    if isinstance(v, (list, tuple)):
        for i, item in enumerate(v):
            none_or(PLAIN_SCALAR)(item, f"{where}[{i}]")
        return
    if isinstance(v, np.ndarray):
        return array("biuf", ndim=1)(v, where)
    fail(where, v, "must be None, a number, text or a list of them")


# Parameters whose values the classes' own parameter checks do not look at.
PARAMETERS = {
    "random_state": none_or(SEED),
    "estimator": none_or(instance(RNNRegressor)),
    "forecaster": none_or(instance(RNNForecaster)),
    "freq": none_or(either(instance(str, int), instance(BaseOffset))),
    "shuffle": instance(bool), "nesterovs_momentum": instance(bool),
    "early_stopping": instance(bool), "scale": instance(bool), "warm_start": instance(bool),
    "verbose": either(instance(bool), integer(0)),
}

def _parameter_record(v, where, cls):
    """Parameters of ``cls`` as at its fit: a dict of its parameter names to values of the
    kinds its parameters take."""
    if not isinstance(v, dict) or not set(v) <= set(cls._get_param_names()):
        fail(where, v, f"must map {cls.__name__} parameter names to values")
    for k, item in v.items():
        PARAMETERS.get(k, plain)(item, f"{where}[{k!r}]")


_F64 = dict(dtype=np.float64, finite=True)
_NETWORK_FITTED = {
    # absent after a fit on sequences of their own lengths (n_timesteps_ None)
    "n_features_in_": optional(integer(1)),
    "feature_names_in_": optional(array("OU", ndim=1)),  # fitted on named columns
    "n_timesteps_": none_or(integer(1)),
    "output_": choice("last", "sequence"),
    "n_channels_": integer(1),
    # which column of a 2-D X each step and channel reads, when not the columns as they are
    "_window_columns": optional(array("i", ndim=2)),
    "network_": instance(Network, EncoderDecoder),
    "_scaled": instance(bool),
    "_x_mean": array("f", ndim=1, **_F64),
    "_x_std": array("f", ndim=1, positive=True, **_F64),
    "_rng": instance(np.random.RandomState),
    "loss_curve_": list_of(real(finite=False)),
    "validation_scores_": none_or(list_of(real(finite=False))),
    "best_validation_score_": none_or(real(finite=False)),
    "best_loss_": real(finite=False),
    "n_iter_": integer(0),
    "t_": integer(0),
}
_CAL = dict(ndim=3, dtype=np.float64, no_inf=True)
_FORECASTER_FITTED = {
    "lags_": integer(1),
    "targets_": list_of(name, low=1, unique=True),
    "past_covariates_": NAMES,
    "future_covariates_": NAMES,
    "axis_": instance(TimeAxis),
    "_columns": list_of(instance(str)),
    "estimator_": instance(RNNRegressor),
    "n_windows_": integer(1),
    "_output_bounds": optional(none_or(instance(tuple))),
    "calibration_residuals_": none_or(array("f", **_CAL)),
    "_cal_keys": array("i", ndim=2, dtype=np.int64),
    "_cal_values": array("f", ndim=4, dtype=np.float64, no_inf=True),
    # one series
    "_state": optional(instance(SeriesState)),
    # a global model
    "series_ids_": optional(list_of(name, low=1, unique=True)),
    "_layout": optional(choice("long", "wide")),
    "_states": optional(instance(dict)),
    "padded_series_": optional(NAMES),
    "series_embedding_": optional(none_or(array("f", ndim=2, finite=True))),
    "static_": optional(none_or(instance(pd.DataFrame))),
    "_fitted_params": optional(lambda v, where: _parameter_record(v, where, RNNForecaster)),
}
_ONE_SERIES, _GLOBAL = {"_state"}, {"series_ids_", "_layout", "_states", "padded_series_",
                                    "series_embedding_"}
# Fitted attributes of each class, beside its parameters: one line per attribute.
FITTED = {
    RNNRegressor: {**_NETWORK_FITTED,
                   "quantiles_": none_or(levels),
                   "_y_ndim": choice(1, 2),
                   "n_outputs_": integer(1),
                   "_y_mean": array("f", ndim=1, **_F64),
                   "_y_std": array("f", ndim=1, positive=True, **_F64)},
    RNNClassifier: {**_NETWORK_FITTED,
                    "classes_": array("biufUO", ndim=1)},
    RNNForecaster: _FORECASTER_FITTED,
    RNNEnsembleForecaster: {
        "members_": list_of(instance(RNNForecaster), low=1),
        "member_fit_seconds_": array("f", ndim=1, **_F64),
        "member_params_": list_of(instance(dict)),
        "calibration_residuals_": none_or(array("f", **_CAL)),
    },
}
# What a fitted model must have (the rest of its table may be missing).
_REQUIRED = {cls: {k for k, spec in table.items() if not isinstance(spec, optional)}
             for cls, table in FITTED.items()}

# SeriesState fields: plain annotations are checked from the class itself; these need more.
_SEASONAL = none_or(array("f", ndim=2, **_F64))
_RECORD_FIELDS = {
    SeriesState: {"axis": instance(TimeAxis), "kind": choice("series", "frame"), "name": name,
                  "history": instance(pd.DataFrame), "scale": real(positive=True),
                  "code": integer(-1), "norm": choice("last", "season", None),
                  "season": integer(1), "seasonal": _SEASONAL,
                  "anchor": none_or(instance(pd.Index)), "trained_seasonal": _SEASONAL,
                  "history_start": integer(0)},
}
_ANNOTATIONS = {"float": real(), "int": integer(), "bool": instance(bool), "str": instance(str)}


@functools.lru_cache(maxsize=None)
def record_fields(cls):
    """{field: spec} of a record class, from its annotations and the table above."""
    extra = _RECORD_FIELDS.get(cls, {})
    return {f.name: extra.get(f.name) or _ANNOTATIONS[f.type] for f in dataclasses.fields(cls)}


def check_record(cls, values, where):
    """A record's stored fields: every field without a default present, no others, each
    of its kind.  (Records are checked further by the class that holds them.)"""
    fields = dataclasses.fields(cls)
    specs = record_fields(cls)
    required = {f.name for f in fields if f.default is dataclasses.MISSING}
    if not isinstance(values, dict) or not required <= set(values) <= set(specs):
        raise ValueError(f"`{where}` must have the fields {sorted(required)} and no others "
                         f"than {sorted(specs)}")
    for k, v in values.items():
        specs[k](v, f"{where}.{k}")


def check_axis(offset, calendar, label, where):
    """A stored TimeAxis: an int step or a DateOffset of positive multiple, its
    calendar flag as fitting sets it."""
    if isinstance(offset, BaseOffset):
        if not is_int(offset.n) or offset.n < 1:
            fail(f"{where}.offset", offset, "must step forward (a positive multiple)")
    else:
        integer(1)(offset, f"{where}.offset")
    same(f"{where}.calendar", calendar, isinstance(offset, (BusinessDay, CustomBusinessDay)),
         "whether the offset is a business-day calendar")
    name(label, f"{where}.name")


def check_network(config, params, where):
    """A stored network's layout, its size counted in Python ints (no overflow) before
    the parameters are wrapped."""
    for k in ("input_size", "hidden_size", "output_size"):
        integer(1, MAX_SIZE)(config.get(k), f"{where}.{k}")
    integer(1, MAX_LAYERS)(config.get("num_layers"), f"{where}.num_layers")
    for k in ("num_embeddings", "embedding_dim", "static_size"):
        integer(0, MAX_SIZE)(config.get(k, 0), f"{where}.{k}")
    choice("rnn", "lstm", "gru")(config.get("cell"), f"{where}.cell")
    n = count_params(config["cell"], config["input_size"], config["hidden_size"],
                     config["num_layers"], config["output_size"], config.get("num_embeddings", 0),
                     config.get("embedding_dim", 0), config.get("static_size", 0))
    if not isinstance(params, np.ndarray) or params.shape != (n,):
        fail(f"{where}.params", params, f"must be the layout's {n} parameters")


ENCODER_DECODER = ("cell", "input_size", "hidden_size", "num_layers", "output_size",
                    "decoder_steps", "encoder_inputs", "decoder_inputs", "activation", "init",
                    "num_embeddings", "embedding_dim", "static_size", "feedback")


def check_encoder_decoder(config, params, where):
    """A stored encoder-decoder's layout (each network's as :func:`check_network` checks
    one) and its size; returns the layout's arguments."""
    missing = [k for k in ENCODER_DECODER if k not in config]
    if missing:
        fail(where, sorted(config), f"lacks the layout's {missing}")
    for k in ("input_size", "hidden_size", "output_size", "decoder_steps", "encoder_inputs",
              "decoder_inputs"):
        integer(1, MAX_SIZE)(config[k], f"{where}.{k}")
    integer(1, MAX_LAYERS)(config["num_layers"], f"{where}.num_layers")
    for k in ("num_embeddings", "embedding_dim", "static_size", "feedback"):
        integer(0, MAX_SIZE)(config[k], f"{where}.{k}")
    choice("rnn", "lstm", "gru")(config["cell"], f"{where}.cell")
    if config["output_size"] % config["decoder_steps"]:
        fail(f"{where}.output_size", config["output_size"], "must be a multiple of "
             "decoder_steps")
    n = EncoderDecoder.count_params(**{k: config[k] for k in ENCODER_DECODER})
    if not isinstance(params, np.ndarray) or params.shape != (n,):
        fail(f"{where}.params", params, f"must be the layout's {n} parameters")
    return {k: config[k] for k in ENCODER_DECODER}


# ----------------------------------------------------------------------- the classes
def check_state(cls, state, where):
    """The stored state of an estimator of class ``cls``: its parameters (by the class's
    own checks), its fitted attributes (all or none) and how they agree."""
    params = cls._get_param_names()
    table = FITTED[cls]
    unknown = sorted(set(state) - set(params) - set(table))
    missing = sorted(set(params) - set(state))
    if unknown or missing:
        raise ValueError(f"`{where}` holds attributes {cls.__name__} does not have "
                         f"{unknown[:5]} or lacks parameters {missing[:5]}")
    for k in params:
        PARAMETERS.get(k, plain)(state[k], f"{where}.{k}")
    fitted = set(state) & set(table)
    if fitted and not _REQUIRED[cls] <= fitted:
        raise ValueError(f"`{where}` is partly fitted: it lacks "
                         f"{sorted(_REQUIRED[cls] - fitted)[:5]}")
    for k in fitted:
        table[k](state[k], f"{where}.{k}")
    probe = cls.__new__(cls)
    probe.__dict__.update({k: state[k] for k in params})
    try:
        _CHECK_PARAMS[cls](probe)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{where}`: {err}") from None
    if fitted:
        _CONSISTENT[cls](state, probe, where)


def _check_ensemble_params(ens):
    ens.random_state = None  # checked above; drawing seeds from a stored one would move it
    ens._member_params()


_CHECK_PARAMS = {RNNRegressor: RNNRegressor._check_params,
                 RNNClassifier: RNNClassifier._check_params,
                 RNNForecaster: RNNForecaster._check_params,
                 RNNEnsembleForecaster: _check_ensemble_params}


def _network_estimator(s, est, where, head):
    T, C, net = s["n_timesteps_"], s["n_channels_"], s["network_"]
    if T is None:
        if "n_features_in_" in s or "feature_names_in_" in s:
            fail(f"{where}.n_features_in_", s.get("n_features_in_"),
                 "must be absent for a fit on sequences (n_timesteps_ None)")
    elif "_window_columns" in s:
        cols, width = s["_window_columns"], s.get("n_features_in_")
        shape(f"{where}._window_columns", cols, (T, C))
        if not isinstance(width, int) or cols.min() < 0 or cols.max() >= width:
            fail(f"{where}._window_columns", cols,
                 f"must index the {width} columns of n_features_in_")
    else:
        same(f"{where}.n_features_in_", s.get("n_features_in_"), T * C,
             "n_timesteps_ * n_channels_")
    if "feature_names_in_" in s:
        shape(f"{where}.feature_names_in_", s["feature_names_in_"], (s.get("n_features_in_"),))
    shape(f"{where}._x_mean", s["_x_mean"], (C,))
    shape(f"{where}._x_std", s["_x_std"], (C,))
    # a network's static inputs are channels beside its recurrent inputs; an
    # encoder-decoder's input_size counts every packed channel
    inputs = net.input_size + (0 if isinstance(net, EncoderDecoder) else net.static_size)
    same(f"{where}.network_.input_size + static_size", inputs, C, "n_channels_")
    same(f"{where}.network_.output_size", net.output_size, head, "the head's outputs")


def _regressor(s, est, where):
    K = s["n_outputs_"]
    if s["_y_ndim"] == 1:
        same(f"{where}.n_outputs_", K, 1, "1 for a 1-D target")
    shape(f"{where}._y_mean", s["_y_mean"], (K,))
    shape(f"{where}._y_std", s["_y_std"], (K,))
    # the heads are those of the fitted levels (parameters may have changed since)
    heads = 1 if s["quantiles_"] is None else len(s["quantiles_"])
    if s["quantiles_"] is not None and s["output_"] == "sequence":
        fail(f"{where}.output_", s["output_"], "cannot go with quantile heads (quantiles_ "
             "set): they are many-to-one, as fit refuses loss='quantile' with "
             "output='sequence'")
    _network_estimator(s, est, where, K * heads)
    net = s["network_"]
    if isinstance(net, EncoderDecoder) and net.feedback:
        # the feedback units follow from the scalers: a file cannot set others
        if s["quantiles_"] is not None:
            fail(f"{where}.network_.feedback", net.feedback, "cannot go with quantile heads")
        scale, shift = feedback_units(net.decoder_steps, net.feedback,
                                      net.output_size // net.decoder_steps, s["_x_mean"],
                                      s["_x_std"], s["_y_mean"], s["_y_std"])
        if not (np.array_equal(scale, net.feedback_scale) and
                np.array_equal(shift, net.feedback_shift)):
            fail(f"{where}.network_.feedback_scale", "the stored units",
                 "must be those of the stored scalers")


def _classifier(s, est, where):
    classes = s["classes_"]
    try:
        ordered = len(classes) >= 2 and np.array_equal(np.unique(classes), classes)
    except TypeError:
        ordered = False
    if not ordered or (classes.dtype.kind == "f" and not np.isfinite(classes).all()):
        fail(f"{where}.classes_", classes, "must be at least two distinct labels in sorted "
             "order")
    _network_estimator(s, est, where, len(classes))


def _static_columns(frame, ids, fc, where):
    """The static channels' names of a stored ``static_`` (rows the series, finite)."""
    if frame is None:
        if fc.static_covariates:
            fail(f"{where}.static_", frame, "must hold the static covariates' values")
        return []
    if not fc.static_covariates:
        fail(f"{where}.static_", "a frame", "must be None without `static_covariates`")
    if list(frame.index) != list(ids):
        fail(f"{where}.static_.index", list(frame.index)[:5], "must be the series_ids_")
    values = frame.to_numpy()
    if values.dtype != np.float64 or not np.isfinite(values).all() or not frame.shape[1]:
        fail(f"{where}.static_", "its values", "must be finite float64 columns")
    return [str(c) for c in frame.columns]


def _forecaster(s, fc, where):
    glob = fc._is_global
    wrong = (_ONE_SERIES if glob else _GLOBAL) & set(s)
    lacking = (_GLOBAL if glob else _ONE_SERIES) - set(s)
    if wrong or lacking:
        raise ValueError(f"`{where}` ({'a global model' if glob else 'one series'}) holds "
                         f"{sorted(wrong)} or lacks {sorted(lacking)}")
    lags, h, direct = s["lags_"], fc.horizon, fc.strategy != "recursive"
    targets, past, future = s["targets_"], s["past_covariates_"], s["future_covariates_"]
    columns = targets + past + future
    if len(set(map(key, columns))) != len(columns):
        fail(f"{where}.targets_", targets, "and the covariates must all differ")
    ids = s["series_ids_"] if glob else []
    if glob:
        same(f"{where}.targets_", len(targets), 1, "one target per series in a global model")
    onehot = [f"series[{sid}]" for sid in ids] if fc.series_encoding == "onehot" else []
    statics = _static_columns(s.get("static_"), ids, fc, where)
    onehot = onehot + statics  # both are constant channels after the future-known ones
    est, e = s["estimator_"], f"{where}.estimator_"
    if not hasattr(est, "network_"):
        fail(e, est, "must be fitted")
    spec = types.SimpleNamespace(lags_=lags, horizon=h, strategy=fc.strategy,
                                 decoder_feedback=fc.decoder_feedback)
    steps, channels = estimator_window(spec, len(columns) + len(onehot))
    same(f"{e}.n_timesteps_", est.n_timesteps_, steps, "the forecaster's window steps")
    same(f"{e}.n_channels_", est.n_channels_, channels, "the forecaster's channels")
    net = est.network_
    if is_packed(spec) != isinstance(net, EncoderDecoder):
        fail(f"{e}.network_", net, f"does not match `strategy`={fc.strategy!r}")
    if is_packed(spec):
        layout = decoder_layout(spec, len(targets) + len(past), len(future) + len(onehot),
                                len(targets))
        for k, v in layout.items():
            same(f"{e}.network_.{k}", getattr(net, k), v, "the forecaster's windows")
    n_out = h * len(targets) if direct else len(targets) + len(past)
    same(f"{e}.n_outputs_", est.n_outputs_, n_out, "the forecaster's outputs per window")
    same(f"{e}.network_.static_size", net.static_size, len(statics), "the static channels")
    n_emb = len(ids) if fc.series_encoding == "embedding" else 0
    same(f"{e}.network_.num_embeddings", net.num_embeddings, n_emb, "the series embedded")
    if glob:
        emb = s["series_embedding_"]
        if n_emb or emb is not None:
            array("f", ndim=2)(emb, f"{where}.series_embedding_")
            shape(f"{where}.series_embedding_", emb, (n_emb, net.embedding_dim))
    same(f"{where}._columns", s["_columns"],
         window_columns(types.SimpleNamespace(lags_=lags), targets + past, future + onehot,
                        h if direct else 1), "the names of the window columns")
    bounds = s.get("_output_bounds")
    if bounds is not None:
        same(f"{where}._output_bounds", len(bounds), 2, "a (lower, upper) pair")
        for i, b in enumerate(bounds):
            array("f", ndim=1, **_F64)(b, f"{where}._output_bounds[{i}]")
            shape(f"{where}._output_bounds[{i}]", b, (n_out,))
    res = s["calibration_residuals_"]
    if res is not None:
        shape(f"{where}.calibration_residuals_", res, (max(1, len(res)), h, len(targets)))
    keys = s["_cal_keys"]
    shape(f"{where}._cal_keys", keys, (len(keys), 3))
    shape(f"{where}._cal_values", s["_cal_values"], (len(keys), h, len(targets), 2))
    if not glob:
        same(f"{where}._state.axis", s["_state"].axis, s["axis_"], "axis_")
        _series(s["_state"], f"{where}._state", fc, s, -1, columns)
        return
    states = s["_states"]
    same(f"{where}._states", list(states), ids, "a state for each of series_ids_")
    if not {key(p) for p in s["padded_series_"]} <= {key(i) for i in ids}:
        fail(f"{where}.padded_series_", s["padded_series_"], "must be series of series_ids_")
    kinds = set()
    for code, (sid, state) in enumerate(states.items()):
        instance(SeriesState)(state, f"{where}._states[{sid!r}]")
        kinds.add(_series(state, f"{where}._states[{sid!r}]", fc, s, code, columns))
    if len(kinds) > 1:
        fail(f"{where}._states", sorted(kinds), "must all have one kind of time (and zone)")


def _index_kind(index):
    return ("datetime", str(index.tz)) if isinstance(index, pd.DatetimeIndex) else \
        ("integer", None) if pd.api.types.is_integer_dtype(index.dtype) else ("other", None)


def _series(st, where, fc, s, code, columns):
    """One series' state, against the forecaster that holds it."""
    lags, glob, hist = s["lags_"], fc._is_global, st.history
    same(f"{where}.history.columns", list(hist.columns), columns, "the targets and covariates")
    if not (1 <= len(hist) <= lags if glob else len(hist) == lags):
        fail(f"{where}.history", hist.shape, f"must hold the last lags_={lags} rows")
    kind = _index_kind(hist.index)
    axis_kind = "integer" if is_int(st.axis.offset) else "datetime"
    if kind[0] != axis_kind:
        fail(f"{where}.history.index", hist.index, f"must be {axis_kind} labels as its axis")
    if not (hist.index.is_unique and hist.index.is_monotonic_increasing):
        fail(f"{where}.history.index", hist.index, "must be unique and increasing")
    values = hist.to_numpy()
    if values.dtype.kind not in "biuf" or (values.dtype.kind == "f" and np.isinf(values).any()):
        fail(f"{where}.history", values, "must hold finite numbers (or gaps)")
    same(f"{where}.code", st.code, code if glob else -1, "the series' position")
    if st.kind == "series" and len(s["targets_"]) != 1:
        fail(f"{where}.kind", st.kind, "needs a single target")
    if st.norm == "season" and st.season > lags:
        fail(f"{where}.season", st.season, f"must be at most lags_={lags} for norm='season'")
    if st.log and not st.floor > 0:
        fail(f"{where}.floor", st.floor, "must be positive on a log scale")
    for k in ("seasonal", "trained_seasonal"):
        v = getattr(st, k)
        if v is not None:
            shape(f"{where}.{k}", v, (st.season, len(s["targets_"])))
            if st.mult:
                array("f", positive=True)(v, f"{where}.{k}")
    if st.trained_seasonal is not None and st.seasonal is None:
        fail(f"{where}.trained_seasonal", st.trained_seasonal, "needs seasonal indices")
    if st.anchor is None:
        if st.seasonal is not None:
            fail(f"{where}.anchor", None, "must give the first label of a decomposed series")
    elif len(st.anchor) != 1 or _index_kind(st.anchor) != kind:
        fail(f"{where}.anchor", st.anchor, "must be one label like the history's")
    try:  # what predict does with the axis first: step to the forecast labels
        st.axis.future(hist.index[-1], fc.horizon)
        if st.seasonal is not None:
            st.start_of(hist.index[0])
    except (ArithmeticError, TypeError, ValueError) as err:
        fail(f"{where}.axis", st.axis, f"cannot step from {hist.index[-1]} ({err})")
    return kind


def _ensemble(s, ens, where):
    members = s["members_"]
    first = members[0]
    for i, m in enumerate(members):
        if not hasattr(m, "estimator_"):
            fail(f"{where}.members_[{i}]", m, "must be fitted")
    n = len(members)
    shape(f"{where}.member_fit_seconds_", s["member_fit_seconds_"], (n,))
    same(f"{where}.member_params_", len(s["member_params_"]), n, "one entry per member")
    for i, p in enumerate(s["member_params_"]):
        w = f"{where}.member_params_[{i}]"
        same(w, sorted(p), ["lags", "loss", "random_state"], "the keys of a member's params")
        either(choice("auto"), integer(1))(p["lags"], f"{w}['lags']")
        none_or(instance(str))(p["loss"], f"{w}['loss']")
        none_or(integer(0))(p["random_state"], f"{w}['random_state']")
    ends = _ends(first)
    for i, m in enumerate(members[1:], 1):
        w = f"{where}.members_[{i}]"
        for k in ("horizon", "targets_", "_is_global", "axis_"):
            same(f"{w}.{k}", getattr(m, k), getattr(first, k), "the first member's")
        same(f"{w} (last labels)", _ends(m), ends, "the first member's")
    res = s["calibration_residuals_"]
    if (res is None) != (first.calibration_residuals_ is None):
        fail(f"{where}.calibration_residuals_", res, "must exist exactly when the members'")
    if res is not None:
        shape(f"{where}.calibration_residuals_", res, (len(res), first.horizon,
                                                       len(first.targets_)))


def _ends(fc):
    """Each series' last fitted label (where forecasts start)."""
    states = fc._states if fc._is_global else {None: fc._state}
    return [(key(sid), st.history.index[-1]) for sid, st in states.items()]


# Rules tying each class's fitted attributes together (after each is checked alone).
_CONSISTENT = {RNNRegressor: _regressor, RNNClassifier: _classifier,
               RNNForecaster: _forecaster, RNNEnsembleForecaster: _ensemble}
