"""One model per series, fitted and forecast through joblib: ``fit_many`` and ``predict_many``.

Re-exported by :mod:`tsrnn.model_selection`.  joblib picks the workers: local
processes by default (loky), ``multiprocessing``'s pool, threads, sequential, or Ray's
backend.  Inside ``joblib.parallel_config(backend="dask")`` the tasks go to that
backend's Dask client directly, one per series, because joblib's Dask backend
never returns when a worker dies.  The panel is checked in full before anything
is dispatched, so bad input fails at once and names the series; a failure inside
a worker names its series too, and its warnings are re-issued here with the
series in the message.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import uuid
import warnings

import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone

from tsrnn._engine import interrupts
from tsrnn._forecast import windows
from tsrnn._validation import check_float, check_n_jobs
from tsrnn.panel import series_error, split_covariates, split_panel, stack_forecasts

__all__ = ["fit_many", "predict_many"]


def _caught(sid, action, scope, call, *args):
    """Run ``call`` in a worker: its warnings are recorded (to be re-issued by the caller,
    whose filters apply), its errors re-raised with the series named.  ``scope`` is the
    caller's interrupt scope (:func:`tsrnn._engine.interrupts.token`): after a Ctrl-C
    there, a task that a thread pool starts late does not start (the pool goes on taking
    queued tasks after the caller has stopped)."""
    if interrupts.requested(scope):
        raise KeyboardInterrupt
    try:
        with _recording() as caught:
            result = call(*args)
    except Exception as err:
        raise series_error(err, sid, f"{action} failed") from err
    return sid, result, caught


# Worker threads of the caller's own process (joblib's threading and sequential
# backends) cannot each use warnings.catch_warnings: it swaps process-wide state, so
# concurrent ones lose each other's warnings and restore each other's filters (of 8
# series fitted on 4 threads, one warning came back, often without its series).  There
# the caller installs one catch for the whole run (:func:`_routed`), and each worker
# thread's warnings go to its own list.
_local = threading.local()
_routing_pid = None


@contextlib.contextmanager
def _recording():
    """The warnings raised inside, as ``[(category, message)]``."""
    if _routing_pid != os.getpid():  # a worker process (a forked one has another pid)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sink = []
            yield sink
        sink[:] = [(w.category, str(w.message)) for w in caught]
        return
    outer, _local.sink = getattr(_local, "sink", None), []
    try:
        yield _local.sink
    finally:
        _local.sink = outer


@contextlib.contextmanager
def _routed():
    """For the duration of an in-process run: every warning shown (as a worker
    process's catch would), a worker thread's into its own list, any other thread's
    as usual; and Ctrl-C deferred, so that the workers stop at their next minibatch and
    it is raised here (a process pool gets KeyboardInterrupt at once, and joblib then
    stops its workers)."""
    global _routing_pid
    with warnings.catch_warnings(), interrupts.deferred(raise_on_exit=True):
        warnings.simplefilter("always")
        shown = warnings.showwarning

        def showwarning(message, category, filename, lineno, file=None, line=None):
            sink = getattr(_local, "sink", None)
            if sink is None:
                return shown(message, category, filename, lineno, file, line)
            sink.append((category, str(message)))

        warnings.showwarning = showwarning
        outer, _routing_pid = _routing_pid, os.getpid()
        try:
            yield
        finally:
            _routing_pid = outer


def _fit(forecaster, y, X):
    return forecaster.fit(y, X)


def _predict(model, X, y, coverage):
    point = model.predict(X=X, y=y)
    frame = point.to_frame("forecast") if point.ndim == 1 else point
    if coverage is not None:
        band = model.predict_interval(coverage, X=X, y=y)
        if point.ndim == 1:
            frame = frame.join(band)
        else:
            targets = list(frame.columns)
            frame.columns = pd.MultiIndex.from_tuples([(c, "forecast") for c in targets])
            frame = frame.join(band)[[(t, k) for t in targets
                                      for k in ("forecast", "lower", "upper")]]
    return frame


def _run(calls, ids, n_jobs, action):
    """Run ``(sid, delayed call)`` pairs in parallel; results in the order of ``ids``."""
    client = _dask_client()
    if client is not None:
        done = _run_dask(client, calls, action)
    else:
        done = _run_joblib(calls, ids, n_jobs, action)
    return {sid: done[sid] for sid in ids}


def _dask_client():
    """The Dask client of an active ``parallel_config(backend="dask")``, else None."""
    backend = _active_backend()
    return getattr(backend, "client", None) if type(backend).__name__ == \
        "DaskDistributedBackend" else None


def _dask_in_process(client):
    """Whether ``client``'s workers are threads of this process (``LocalCluster(processes=
    False)``, ``Client(processes=False)``): its workers are then ``Worker`` objects here,
    where a process cluster has a ``Nanny`` per worker process, and a remote cluster none."""
    from distributed import Worker

    workers = getattr(getattr(client, "cluster", None), "workers", None) or {}
    return any(isinstance(w, Worker) for w in workers.values())


@contextlib.contextmanager
def _collecting(in_process):
    """``(sid, result, caught)`` results go through the yielded ``add``, which returns the
    result and re-issues the series' warnings: at once from worker processes, after the
    run from worker threads of this process (whose warnings :func:`_routed` catches for
    the run's duration, so that the caller's own filters apply only once it has ended)."""
    later = []

    def add(sid, caught):
        if in_process:
            later.append((sid, caught))
        else:
            _reissue(sid, caught)

    with _routed() if in_process else contextlib.nullcontext():
        yield add
    for sid, caught in later:
        _reissue(sid, caught)


def _reissue(sid, caught):
    """Re-issue a series' warnings, attributed to the line that called fit_many or
    predict_many (the first frame outside this module and contextlib's)."""
    frame, level = sys._getframe(), 1
    while frame.f_back is not None and frame.f_code.co_filename in _INTERNAL:
        frame, level = frame.f_back, level + 1
    for category, message in caught:
        warnings.warn(f"series {sid!r}: {message}", category, stacklevel=level)


_INTERNAL = {__file__, contextlib.__file__}


def _run_dask(client, calls, action):
    """Submit one task per series straight to the Dask client, keyed by the series.

    joblib's Dask backend waits forever when a worker dies mid-task (seen with
    joblib 1.6 and distributed 2026.8: the scheduler fails the task, the
    Parallel call never returns), so the tasks go to the same client directly;
    a dead worker then surfaces as ``KilledWorker`` on the series' own task.
    """
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    futures = {}
    for sid, (func, args, kwargs) in calls:
        key = f"tsrnn-{action}-{token}-{len(futures)}"
        futures[client.submit(func, *args, key=key, pure=False, **kwargs)] = sid
    done = {}
    try:
        with _collecting(_dask_in_process(client)) as add:
            for future in as_completed(list(futures)):
                sid = futures[future]
                try:
                    _, result, caught = future.result()
                except Exception as err:
                    if hasattr(err, "series"):
                        raise
                    failed = [futures[f] for f in futures if f.status == "error"]
                    raise RuntimeError(f"{action}: series {sid!r}: its worker failed "
                                       f"({type(err).__name__}: {err}); failed so far: "
                                       f"{failed[:10]}.") from err
                done[sid] = result
                add(sid, caught)
    finally:
        client.cancel([f for f in futures if not f.done()])
    return done


def _run_joblib(calls, ids, n_jobs, action):
    """Through joblib's active backend.  A worker that dies (killed, out of memory,
    segfault) raises no Python error to name; the series it may have held are those
    dispatched but not finished, and the error lists them."""
    dispatched, done = [], {}

    def tasks():
        for sid, call in calls:
            dispatched.append(sid)
            yield call

    # built outside the try below: a backend joblib cannot run (a bad name, a nested
    # multiprocessing pool) is a configuration error, not a worker that failed
    backend = _active_backend()
    parallel = Parallel(n_jobs=n_jobs, return_as=_return_as(backend))
    try:
        with _collecting(bool(getattr(backend, "uses_threads", False))) as add:
            for sid, result, caught in parallel(tasks()):
                done[sid] = result
                add(sid, caught)
    except Exception as err:
        # a series' own error, or its warning re-issued here and raised by the caller's
        # filters ("error"): neither is a worker that failed
        if hasattr(err, "series") or isinstance(err, Warning):
            raise
        running = [sid for sid in dispatched if sid not in done]
        raise RuntimeError(
            f"{action}: a worker failed ({type(err).__name__}: {err}); the series in flight "
            f"(dispatched, unfinished) were {running[:10]}{' ...' if len(running) > 10 else ''};"
            f" {len(done)} of {len(ids)} series had finished."
        ) from err
    return done


def _active_backend():
    from joblib.parallel import get_active_backend

    return get_active_backend()[0]


def _return_as(backend):
    """Results as they finish, so that each series' warnings come back at once, where
    ``backend`` can stream them; else all at the end.  joblib's ``multiprocessing``
    backend cannot stream (it refuses any generator), and refused with a ValueError
    that read as a failed worker."""
    return "generator_unordered" if getattr(backend, "supports_return_generator", False) \
        else "list"


def _check_lengths(forecaster, panel):
    need = forecaster.horizon + windows.fewest_lags(forecaster)
    for sid, s in panel.items():
        if len(s) < need:
            raise ValueError(f"series {sid!r}: {len(s)} observations; `lags` + `horizon` = "
                             f"{need} are needed.")


# joblib refuses more workers than this (its pre-dispatch of 2 * n_jobs tasks must stay
# within 1,000,000); beyond it there is no machine to run them on anyway
MAX_N_JOBS = 100_000


def check_workers(n_jobs):
    """``n_jobs`` for joblib: None or a non-zero int of at most :data:`MAX_N_JOBS` workers
    (a ValueError naming `n_jobs` up front, not a failure inside joblib's workers)."""
    n_jobs = check_n_jobs(n_jobs)
    if n_jobs is not None and n_jobs > MAX_N_JOBS:
        raise ValueError(f"`n_jobs`={n_jobs!r} must be at most {MAX_N_JOBS:,} workers (or -1 "
                         "for one per CPU).")
    return n_jobs


def fit_many(forecaster, y, X=None, *, series_id=None, n_jobs=None):
    """Fit one clone of ``forecaster`` per series of a panel, in parallel through joblib.

    Parameters
    ----------
    forecaster : RNNForecaster
        Unfitted template; each series gets a clone (same ``random_state``).
    y : DataFrame or dict
        The panel: wide (one column per series), long (with ``series_id``
        column), or ``{id: Series or DataFrame}`` (see :mod:`tsrnn.panel`).
    X : DataFrame or dict, optional
        Covariates: one frame shared by every series, a long frame with the
        ``series_id`` column, or ``{id: DataFrame}``.
    series_id : str, optional
        Id column of a long ``y`` (and ``X``).
    n_jobs : int, optional
        joblib workers (None: one, unless inside ``joblib.parallel_config``;
        -1: all). Any joblib backend set with ``joblib.parallel_config`` runs
        them: ``"loky"`` (the default), ``"multiprocessing"``, ``"threading"``,
        ``"sequential"``, Ray's. Within ``joblib.parallel_config(backend="dask")``
        the fits run on the Dask cluster, one task per series, and ``n_jobs`` is
        ignored (the cluster's workers set the parallelism).

    Returns
    -------
    dict
        ``{series id: fitted forecaster}``, in the panel's order.

    Raises
    ------
    ValueError
        Before any fit, for a series too short for ``lags + horizon``, a
        duplicate series id, or covariates that do not match the panel,
        naming the series. A fit that fails in a worker re-raises its error
        (same type) with the series named.
    RuntimeError
        If a worker dies; the message lists the series it may have held.

    Examples
    --------
    >>> import tsrnn
    >>> from tsrnn.model_selection import fit_many, predict_many
    >>> panel = tsrnn.datasets.load_stocks()  # one column per ticker
    >>> models = fit_many(tsrnn.RNNForecaster(horizon=5), panel, n_jobs=-1)  # doctest: +SKIP
    >>> predict_many(models).loc["MSFT"]  # doctest: +SKIP
    """
    n_jobs = check_workers(n_jobs)
    if not hasattr(forecaster, "fit") or not hasattr(forecaster, "lags"):
        raise TypeError(f"`forecaster` must be an RNNForecaster, got {type(forecaster).__name__}.")
    forecaster._check_params()
    if forecaster._is_global:
        raise ValueError("`forecaster` is a global model (global_model=True or series_id set): "
                         "fit it on the whole panel with its own fit; fit_many fits one "
                         "single-series model per series.")
    panel = split_panel(y, series_id)
    ids = list(panel)
    covariates = split_covariates(X, ids, series_id)
    _check_lengths(forecaster, panel)
    calls = ((sid, delayed(_caught)(sid, "fit", interrupts.token(), _fit, clone(forecaster),
                                    panel[sid], covariates[sid])) for sid in ids)
    return _run(calls, ids, n_jobs, "fit_many")


def predict_many(models, X=None, y=None, *, series_id=None, coverage=None, n_jobs=None):
    """Forecast every series with its own model; one DataFrame indexed by (series, time).

    Parameters
    ----------
    models : dict
        ``{series id: fitted forecaster}``, as :func:`fit_many` returns.
    X : DataFrame or dict, optional
        Covariates for the forecast steps (future-known ones), shared or per
        series as in :func:`fit_many`.
    y : DataFrame or dict, optional
        A newer panel to forecast from without refitting (every series of
        ``models``).
    series_id : str, optional
        Id column of a long ``X``/``y``; also the name of the series level
        of the result (default ``"series"``).
    coverage : float in (0, 1), optional
        Also return conformal ``lower``/``upper`` bounds.
    n_jobs : int, optional
        joblib workers; forecasting is fast, so None (serial) is usually best.

    Returns
    -------
    DataFrame
        Indexed by (series, time); column ``forecast`` (plus ``lower`` and
        ``upper``) for single-target series, or one column per target
        (``(target, "forecast"/"lower"/"upper")`` with ``coverage``).
    """
    n_jobs = check_workers(n_jobs)
    if not isinstance(models, dict) or not models:
        raise TypeError("`models` must be a non-empty dict of fitted forecasters (from fit_many).")
    if coverage is not None:
        check_float("coverage", coverage, low=0, high=1, low_open=True, high_open=True)
    for sid, model in models.items():
        if not callable(getattr(model, "predict", None)) or not hasattr(model, "_values"):
            raise TypeError(f"series {sid!r}: `models`[{sid!r}] must be a fitted forecaster "
                            f"(from fit_many), got {type(model).__name__} {model!r:.80}.")
    ids = list(models)
    histories = dict.fromkeys(ids)
    if y is not None:
        histories = split_panel(y, series_id)
        missing = [sid for sid in ids if sid not in histories]
        if missing:
            raise ValueError(f"series {missing[0]!r}: not in `y` ({len(missing)} fitted series "
                             f"are missing: {missing[:5]}).")
    covariates = split_covariates(X, ids, series_id)
    calls = ((sid, delayed(_caught)(sid, "predict", None, _predict, models[sid],
                                    covariates[sid], histories[sid], coverage)) for sid in ids)
    frames = _run(calls, ids, n_jobs, "predict_many")
    return stack_forecasts(frames, series_name="series" if series_id is None else series_id)

