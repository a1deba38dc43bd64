"""A panel's training windows, gathered a minibatch at a time from its stacked series.

Materialised, the global model's windows of every series take ``n_windows x lags x
channels`` values at once (100,000 series of 200 observations: 14 million windows,
3 GB per copy in float64 at 28 lags, and the fit made three).  :class:`PanelWindows`
keeps instead each series' arrays in model units stacked end to end and every window
as its origin's row in them; the network reads it as a window source
(:func:`tsrnn._estimator_data.is_window_source`), a minibatch at a time.  A window is
built by the function that builds one series' windows
(:func:`~tsrnn._forecast.windows.window_pairs`) from the same values, so it is bitwise
the window a materialised fit trains on.
"""

from __future__ import annotations

import numpy as np

from tsrnn._forecast.windows import window_pairs


class PanelWindows:
    """The training windows of many series, as a window source.

    Parameters
    ----------
    spec : RNNForecaster
        Reads ``lags_``, ``horizon``, ``strategy`` and ``decoder_feedback``.
    parts : list of (A, F, Yraw, pos, norm)
        Each series' known channels ``A`` (n, C1), future-known channels ``F`` (n, C2)
        and targets ``Yraw`` (n, n_targets), in model units; the origins ``pos`` of its
        training windows (complete ones only); its window normalisation ``norm``.
    n_targets : int
    order : ndarray of int, optional
        The windows' order (positions into all series' windows, in series order): the
        global model's time order.
    """

    window_source = True

    def __init__(self, spec, parts, n_targets, order=None):
        self.spec, self.n_targets = spec, n_targets
        sizes = np.array([len(A) for A, *_ in parts], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.A = np.concatenate([A for A, *_ in parts])
        self.F = np.concatenate([F for _, F, *_ in parts])
        self.Yraw = np.concatenate([Y for _, _, Y, _, _ in parts])
        pos = np.concatenate([p + off for (*_, p, _), off in zip(parts, offsets)])
        self.norms = list(dict.fromkeys(norm for *_, norm in parts))
        ids = np.array([self.norms.index(norm) for *_, norm in parts], dtype=np.int64)
        norm_ids = np.repeat(ids, [len(p) for *_, p, _ in parts])
        if order is not None:
            pos, norm_ids = pos[order], norm_ids[order]
        self.pos = pos.astype(np.int64)
        self.norm_ids = norm_ids
        X, y = self.take(np.arange(min(1, len(pos))))
        self.shape = (len(pos),) + X.shape[1:]
        self.n_outputs = y.shape[1]

    def __len__(self):
        return len(self.pos)

    def take(self, idx):
        """``(X, y)``: float64 windows ``(m, T, C)`` and targets ``(m, n_outputs)`` of the
        windows ``idx``."""
        pos = self.pos[idx]
        args = (self.spec, self.A, self.F, self.Yraw)
        if len(self.norms) == 1 or not len(pos):
            X, Y = window_pairs(*args, pos, self.n_targets, self.norms[0])
            return X, Y.reshape(len(pos), int(np.prod(Y.shape[1:])))
        which = self.norm_ids[idx]
        X = Y = None
        for k in np.unique(which):
            sel = which == k
            Xk, Yk = window_pairs(*args, pos[sel], self.n_targets, self.norms[k])
            if X is None:
                X = np.empty((len(pos),) + Xk.shape[1:])
                Y = np.empty((len(pos),) + Yk.shape[1:])
            X[sel], Y[sel] = Xk, Yk
        return X, Y.reshape(len(pos), int(np.prod(Y.shape[1:])))

    def block(self, start, stop):
        """:meth:`take` of the windows ``start:stop``."""
        return self.take(np.arange(start, stop))
