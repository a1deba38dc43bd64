"""Ctrl-C during training, taken between minibatches instead of wherever it lands.

Python raises ``KeyboardInterrupt`` at the next bytecode after SIGINT.  During a
fit that is usually inside the machinery around a Numba kernel call (argument
typing, the thread pool's hand-off), where it surfaces as ``SystemError: ...
returned a result with an exception set`` and leaves the weights, the history
and the optimizer half-updated.  Inside :func:`deferred` the first SIGINT only
sets a flag; the training loop looks at it after every minibatch
(:func:`requested`) and stops with the best weights, and the scope decides
what the caller sees:

- ``deferred(raise_on_exit=False)`` (an estimator's own ``fit``, as
  scikit-learn's MLP does): the fit returns with the best weights and a
  warning;
- ``deferred(raise_on_exit=True)`` (a forecaster, an ensemble, ``fit_many``,
  the command line): ``KeyboardInterrupt`` is raised at the next
  :func:`checkpoint` (after each network's fit) or when the scope ends, so
  that nothing more is trained and the caller can restore its previous state.

Scopes nest; the outermost decides.  A second Ctrl-C raises at once (the user
insists).  Only the main thread can install a signal handler: elsewhere, and
when the program has its own SIGINT handler (or ignores SIGINT), the scopes do
nothing and Python's behaviour is unchanged.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_lock = threading.Lock()
_depth = 0
_raise = False       # the outermost scope's choice
_pending = False     # a SIGINT arrived inside a scope and was not yet acted on
_previous = None     # the handler the outermost scope replaced
_generation = 0      # counts outermost scopes
_interrupted = -1    # the last scope a SIGINT arrived in


def _on_sigint(signum, frame):
    global _pending, _interrupted
    if _pending:
        raise KeyboardInterrupt
    _pending = True
    _interrupted = _generation


@contextlib.contextmanager
def deferred(*, raise_on_exit):
    """Defer SIGINT to the training loop's next minibatch while inside.

    Parameters
    ----------
    raise_on_exit : bool
        What the outermost scope does with an interrupt: raise ``KeyboardInterrupt``
        (at a :func:`checkpoint` or on leaving) or let the fit end normally.
    """
    global _depth, _raise, _previous, _pending, _generation
    active = (threading.current_thread() is threading.main_thread()
              and (_depth > 0 or signal.getsignal(signal.SIGINT) is signal.default_int_handler))
    if not active:
        yield
        return
    with _lock:
        if _depth == 0:
            _generation += 1
            _previous = signal.signal(signal.SIGINT, _on_sigint)
            _raise = raise_on_exit
            _pending = False
        _depth += 1
    try:
        yield
        outermost = _depth == 1
        if outermost and _pending and _raise:
            raise KeyboardInterrupt
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                signal.signal(signal.SIGINT, _previous)
                _previous = None
                _pending = False


def token():
    """The current scope's number (None outside any), for :func:`requested`: a fit in a
    worker thread started inside a scope still stops after that scope has ended."""
    return _generation if _depth > 0 else None


def requested(scope=None) -> bool:
    """Whether a Ctrl-C arrived inside the current scope, or inside scope number
    ``scope`` (:func:`token`) if given: the loop should stop."""
    return _pending or (scope is not None and scope == _interrupted)


def will_raise() -> bool:
    """Whether the interrupt will reach the caller as ``KeyboardInterrupt`` (so a fit
    that stops for it need not warn)."""
    return _depth > 0 and _raise


def checkpoint():
    """Raise ``KeyboardInterrupt`` if an interrupt arrived and the outermost scope raises."""
    if _pending and will_raise():
        raise KeyboardInterrupt


def is_interrupt(exc) -> bool:
    """Whether ``exc`` is a ``KeyboardInterrupt``, or an error that one caused inside a
    compiled call (Numba's dispatcher reports it as a ``SystemError`` caused by it)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
