"""Windows of one series on its grid: training windows, normalisation, forecasts, residuals.

Plain arrays: ``A`` (n, C1) holds the channels known up to each origin (the
targets first, then past covariates), ``F`` (n + lead, C2) the future-known
channels, ``Yraw`` (n, n_targets) the targets with gaps as NaN, all in the
model's units.  ``spec`` is the forecaster (``lags``, ``horizon``,
``strategy``, ``calibration_fraction``); ``norm`` a series' ``(window
reference, season)`` (see :mod:`tsrnn._forecast.scaling`); ``predictor`` a
:class:`~tsrnn._forecast.regressor.Predictor`.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils.validation import check_is_fitted

from tsrnn._validation import check_float
from tsrnn.windowing import check_window_memory, gather_windows, window_positions


def auto_lags(horizon, season, room):
    """The window length of ``lags="auto"``: four horizons, at least a season and 24
    steps, at most 96 steps (or a season, if longer) and ``room`` (at least 1).

    Chosen on the M1 and Tourism competitions (``benchmarks/RESULTS.md``): four
    horizons against two, three, five and six; the floor of 24 against 12, 16 and 20
    on Tourism's yearly series (horizon 4); 24 was also the fixed default before. The
    cap of 96 is the longest window the competitions measured (Tourism monthly); on
    the bundled half-hourly sea temperature (horizon 48) it was as accurate as 192
    steps and four times faster.
    """
    return max(1, min(max(4 * horizon, season, 24), max(96, season), room))


def resolve_lags(spec, season, n, panel=False):
    """``spec.lags`` as an int for ``n`` observations (a panel: its longest series'):
    ``"auto"`` leaves a single series at least as many training windows (after its
    calibration windows) as steps in a window, and a panel's longest series one
    window (shorter ones are padded)."""
    if spec.lags != "auto":
        return int(spec.lags)
    if panel:
        return auto_lags(spec.horizon, season, n - spec.horizon)
    lags = auto_lags(spec.horizon, season, n)
    while lags > 1 and training_count(spec, n, lags) < lags:
        lags -= 1
    return lags


def fewest_lags(spec):
    """The shortest window a fit may end up with: ``lags``, or 1 for ``"auto"``, which
    shortens its windows to what the data allow (what length checks made before a fit
    may require)."""
    return 1 if spec.lags == "auto" else int(spec.lags)


def training_count(spec, n, lags):
    """Training windows of a series of ``n`` observations with windows of ``lags`` (before
    any is dropped for missing values): its forecast origins less the calibration ones and
    the gap before them."""
    origins = max(0, n - lags - spec.horizon + 1)
    n_cal = 0 if spec.calibration_fraction is None else \
        math.ceil(spec.calibration_fraction * origins)
    return origins - n_cal - (train_steps(spec) - 1 if n_cal else 0)


def train_steps(spec):
    """Steps each training window's targets cover, which is also how far ahead its
    future-known channels are read: ``horizon`` (direct, seq2seq) or 1 (recursive)."""
    return 1 if spec.strategy == "recursive" else spec.horizon


def is_packed(spec):
    """Whether the estimator reads packed encoder-decoder windows (``strategy="seq2seq"``):
    the ``lags`` observed steps, then the ``horizon`` steps to forecast, whose
    future-known channels feed the decoder (see :func:`packed_windows`)."""
    return spec.strategy == "seq2seq"


def estimator_window(spec, channels):
    """(steps, channels) of the windows the estimator reads, for ``channels`` window
    channels (known ones, then future-known ones)."""
    if is_packed(spec):
        return spec.lags_ + spec.horizon, channels + 1
    return spec.lags_, channels


def feedback(spec, n_targets):
    """Target channels the decoder is fed back (``decoder_feedback``): all or none."""
    return n_targets if is_packed(spec) and spec.decoder_feedback else 0


def decoder_layout(spec, n_known, n_future, n_targets):
    """The encoder-decoder's reading of packed windows (``RNNRegressor._fit``'s
    ``decoder``): the encoder reads every window channel, the decoder the future-known
    ones and the step channel, and with ``decoder_feedback`` the target channels."""
    return {"decoder_steps": spec.horizon, "encoder_inputs": n_known + n_future,
            "decoder_inputs": n_future + 1, "feedback": feedback(spec, n_targets)}


def packed_windows(spec, A, F, pos, what):
    """Encoder-decoder windows ``(len(pos), lags + horizon, C1 + C2 + 1)`` at the origins
    ``pos``: the first ``lags`` steps hold the known channels ``A`` and the future-known
    ones ``F`` of the same timestamps, the last ``horizon`` steps the future-known
    channels of the steps to forecast and the step's place in the horizon (``j / h``,
    the decoder's clock where there are no covariates); the known channels are zero
    there (the decoder does not read them; with ``decoder_feedback`` the targets'
    channels there are filled in by :func:`windows` and :func:`training_windows`)."""
    lags, h = spec.lags_, spec.horizon
    C1, C2 = A.shape[1], F.shape[1]
    check_window_memory(len(pos), lags + h, C1 + C2 + 1, what)
    X = np.zeros((len(pos), lags + h, C1 + C2 + 1))
    X[:, :lags, :C1] = A[pos[:, None] + np.arange(-lags + 1, 1)]
    if C2:
        X[:, :, C1:C1 + C2] = F[pos[:, None] + np.arange(-lags + 1, h + 1)]
    X[:, lags:, -1] = np.arange(1, h + 1) / h
    return X


def normalise(spec, Xw, n_targets, norm):
    """Express the windows ``Xw`` relative to their reference, in place, and return what
    to add back to each target step ``(n, steps, n_targets)``.

    ``norm`` is ``(kind, season)``: ``"last"`` subtracts each window's last target
    values from its targets; ``"season"`` does the same to the inputs but refers
    each forecast step to the value one season before it (read from the window,
    so an output of zero is the seasonal naive forecast); ``None`` leaves the
    windows as they are.
    """
    kind, season = norm
    steps = train_steps(spec)
    if kind is None:
        return np.zeros((len(Xw), steps, n_targets))
    lags = spec.lags_  # packed windows go on past the observed steps
    last = Xw[:, lags - 1, :n_targets].copy()
    if kind == "season":
        at = lags - season + np.arange(steps) % season
        ref = Xw[:, at, :n_targets].copy()
    else:
        ref = last[:, None, :]
    Xw[:, :lags, :n_targets] -= last[:, None, :]
    return ref


def windows(spec, A, F, pos, n_targets, norm):
    """Network inputs at origins ``pos`` (normalised) and the per-step reference."""
    what = "The windows of `y`/`X`"
    Xw = packed_windows(spec, A, F, pos, what) if is_packed(spec) else \
        gather_windows(A, F, pos, spec.lags_, train_steps(spec), what)
    ref = normalise(spec, Xw, n_targets, norm)
    fed = feedback(spec, n_targets)
    if fed:
        # the decoder's first step is fed the last observed values (normalised)
        Xw[:, spec.lags_, :fed] = Xw[:, spec.lags_ - 1, :fed]
    return Xw, ref


def calibration_origins(spec, n):
    """The last ``calibration_fraction`` of a series' forecast origins (none when None)."""
    origins = window_positions(n, spec.lags_, spec.horizon, 1)
    n_cal = 0
    if spec.calibration_fraction is not None:
        n_cal = math.ceil(spec.calibration_fraction * len(origins))
    return origins[len(origins) - n_cal:]


def training_windows(spec, A, F, Yraw, n_targets, cal, norm):
    """Complete training windows ``(Xw, Yw)`` (targets relative to the window's level) and
    their origins, all before the calibration origins ``cal`` (with a gap so that no
    training target is a calibration target)."""
    H = train_steps(spec)
    n = len(A)
    last_train = (cal[0] - H) if len(cal) else n - 1 - H
    train = window_positions(last_train + H + 1, spec.lags_, H, 1)
    # gathered (2 parts joined), then the complete ones copied out
    check_window_memory(len(train), *estimator_window(spec, A.shape[1] + F.shape[1]),
                        "The training windows of `y`/`X`", copies=3)
    Xw, ref = windows(spec, A, F, train, n_targets, norm)
    # fancy indexing and concatenate both copy, so Yw may be normalised in place
    Yw = Yraw[train[:, None] + np.arange(1, H + 1)] if spec.strategy != "recursive" else \
        np.concatenate([Yraw[train + 1], A[train + 1, n_targets:]], axis=1)[:, None, :]
    Yw[..., :n_targets] -= ref
    fed = feedback(spec, n_targets)
    if fed:
        # teacher forcing: each later decoder step is fed the true previous values,
        # in the units of the targets' input channels (the same reference, the last
        # observation, as decoder_feedback requires)
        Xw[:, spec.lags_ + 1:, :fed] = Yw[:, :-1, :fed]
    ok = ~(np.isnan(Xw).any(axis=(1, 2)) | np.isnan(Yw).any(axis=(1, 2)))
    return Xw[ok], Yw[ok], train[ok]


def forecast(spec, predictor, A, F, pos, n_targets, norm, *, quantiles=False):
    """Forecasts ``(len(pos), horizon, n_targets)`` (``[..., n_levels]`` with ``quantiles``)
    from the windows ending at ``pos``; ``F`` must reach ``pos + lead``.

    NaN where a window has missing inputs.
    """
    h, lags = spec.horizon, spec.lags_
    m = len(pos)
    if spec.strategy != "recursive":
        Xw, ref = windows(spec, A, F, pos, n_targets, norm)
        bad = np.isnan(Xw).any(axis=(1, 2))
        Xw[bad] = 0.0
        if quantiles:
            Q = predictor.predict_quantiles(Xw).reshape(m, h, n_targets, -1)
            out = Q + ref[..., None]
        else:
            out = predictor.predict(Xw).reshape(m, h, n_targets) + ref
        out[bad] = np.nan
        return out
    C1 = A.shape[1]
    check_window_memory(m, lags + h, C1 + F.shape[1], "The recursive forecasts' windows",
                        advice="Lower `lags` or `horizon`, or forecast from fewer origins.")
    buf = np.empty((m, lags + h, C1))
    buf[:, :lags] = A[pos[:, None] + np.arange(-lags + 1, 1)]
    bad = np.isnan(buf[:, :lags]).any(axis=(1, 2))
    if F.shape[1]:
        bad |= np.isnan(F[pos[:, None] + np.arange(-lags + 2, h + 1)]).any(axis=(1, 2))
    buf[bad] = 0.0
    steps = np.arange(lags)
    for j in range(h):
        win = buf[:, j:j + lags].copy()
        ref = normalise(spec, win, n_targets, norm)[:, 0]
        if F.shape[1]:
            fut = np.nan_to_num(F[pos[:, None] - lags + 2 + j + steps])
            win = np.concatenate([win, fut], axis=2)
        step = predictor.predict(win).reshape(m, C1)
        step[:, :n_targets] += ref
        buf[:, lags + j] = step
    out = buf[:, lags:, :n_targets].copy()
    out[bad] = np.nan
    return out


def residuals(spec, predictor, A, F, Yraw, cal, n_targets, norm):
    """Actual minus forecast at the calibration origins ``cal`` (None without any)."""
    if not len(cal):
        return None
    return Yraw[cal[:, None] + np.arange(1, spec.horizon + 1)] - \
        forecast(spec, predictor, A, F, cal, n_targets, norm)


def check_interval(model, coverage, fitted_attr):
    """``coverage`` checked, for a fitted ``model`` with calibration residuals."""
    coverage = check_float("coverage", coverage, low=0, high=1, low_open=True, high_open=True)
    check_is_fitted(model, fitted_attr)
    if model.calibration_residuals_ is None:
        raise ValueError("Intervals need calibration windows; fit with `calibration_fraction`"
                         " set (it is None).")
    return coverage


def calibration_need(coverage):
    """The calibration windows per step that split-conformal intervals at ``coverage``
    need: the smallest ``n`` with ``ceil((n + 1) coverage) <= n``, i.e. ``n >= c / (1 - c)``."""
    return math.ceil(round(coverage / (1 - coverage), 6))


def half_width(residuals, coverage):
    """Split-conformal half-width per step and target: the ``ceil((n + 1) coverage)``-th
    smallest absolute calibration residual (NaN residuals do not count); None for
    ``coverage`` None (no interval asked for)."""
    if coverage is None:
        return None
    scores = np.abs(residuals)
    n = (~np.isnan(scores)).sum(axis=0)
    k = np.ceil((n + 1) * coverage).astype(int)
    if np.any(k > n):
        need = calibration_need(coverage)
        raise ValueError(
            f"`coverage`={coverage} needs at least {need} calibration windows per step; there "
            f"are {int(n.min())}. Lower the coverage or raise `calibration_fraction`."
        )
    ordered = np.sort(scores, axis=0)  # NaN sort last
    return np.take_along_axis(ordered, (k - 1)[None], axis=0)[0]
