"""The training loop: minibatches, shuffling, early stopping, schedules, progress, divergence.

It knows a :class:`~tsrnn._engine.network.Network` and the optimizers, and
nothing of scikit-learn estimators or pandas.  A :class:`Trainer` holds
everything that must survive between calls (optimizer moments, learning rate,
history, the best weights so far, the kernels' scratch), so ``warm_start`` and
``partial_fit`` continue where the last call stopped.  The network's flat
parameter vector, embedding included, is trained by one optimizer and
snapshotted as one array.
"""

from __future__ import annotations

import copy
import math
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from tsrnn._engine import interrupts, sequences, threads
from tsrnn._engine.jit import is_compiled
from tsrnn._engine.kernels import drivers
from tsrnn._engine.kernels.losses import CODES as LOSS_CODES
from tsrnn._engine.optim import SGD, Adam
from tsrnn._engine.plan import Workspace
from tsrnn._engine.sequences import truncation

# Reduce-on-plateau: divide the learning rate by this after a plateau, stop below the floor.
PLATEAU_FACTOR = 5.0
MIN_LEARNING_RATE = 1e-6
# An epoch whose training loss exceeds the first epoch's (the untrained network's) this many
# times has diverged, even while float64 still represents it: a rate far too high grows the
# loss geometrically for many epochs before it overflows.
DIVERGENCE_FACTOR = 1e6


class DivergenceWarning(RuntimeWarning):
    """Training produced a non-finite loss or gradient; the best weights were restored."""


@dataclass
class TrainConfig:
    """Hyper-parameters the loop needs (validated by the estimator)."""

    loss: str = "squared_error"
    quantiles: np.ndarray | None = None
    huber_delta: float = 1.0
    solver: str = "adam"
    learning_rate_init: float = 1e-3
    learning_rate: str = "constant"
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    alpha: float = 0.0
    batch_size: int = 32
    shuffle: bool = True
    tol: float = 1e-4
    n_iter_no_change: int = 10
    clip_norm: float | None = None
    bptt_steps: int | None = None
    dropout: float = 0.0
    return_sequences: bool = False
    n_jobs: int | None = None
    verbose: bool = False


class Trainer:
    """Optimizer state and history of one network's training.

    Parameters
    ----------
    net : Network
        Trained in place.
    config : TrainConfig

    Attributes
    ----------
    loss_curve : list of float
        Training loss of each epoch (sample-weighted mean over the epoch's
        minibatches, plus the L2 penalty).
    validation_scores : list of float
        Per epoch with validation data: minus the validation loss (higher is better).
    best_loss : float
        Lowest training loss seen.
    best_validation_score : float or None
    t : int
        Training samples processed (counted once per epoch and sample).
    n_iter : int
        Epochs run.
    """

    def __init__(self, net, config):
        self.net = net
        self.config = config
        self.optimizer = self._optimizer()
        self.loss_curve = []
        self.validation_scores = []
        self.best_loss = math.inf
        self.best_validation_score = None
        self.t = 0
        self.n_iter = 0
        self._stall = 0
        self._best_params = net.params.copy()
        # the weights each epoch starts from: an epoch's training loss is measured along
        # its updates, from these, never on the weights its last update leaves
        self._epoch_start = net.params.copy()
        self._workspace = Workspace()
        self._scope = None  # the interrupt scope of the running call
        self._qs = (np.empty(0, net.dtype) if config.quantiles is None
                    else np.asarray(config.quantiles, net.dtype))

    def snapshot(self):
        """Everything a call changes (history, counters, optimizer state, best weights,
        the network's weights), for :meth:`restore` after a call that failed."""
        state = {k: v for k, v in vars(self).items() if k not in ("net", "_workspace")}
        return copy.deepcopy(state), self.net.params.copy()

    def restore(self, snapshot):
        """Put back what :meth:`snapshot` took."""
        state, params = snapshot
        vars(self).update(state)
        self.net.params[...] = params

    def _optimizer(self):
        cfg, net = self.config, self.net
        common = dict(learning_rate=cfg.learning_rate_init, alpha=cfg.alpha,
                      decay_mask=net.weight_mask, clip_norm=cfg.clip_norm, dtype=net.dtype)
        if cfg.solver == "adam":
            return Adam(net.n_params, **common)
        return SGD(net.n_params, momentum=cfg.momentum, nesterov=cfg.nesterovs_momentum, **common)

    # ------------------------------------------------------------------ epochs
    def run(self, X, Y, sw, *, epochs, rng, validation=None, groups=None, lengths=None):
        """Train for up to ``epochs`` epochs; returns why it stopped.

        Parameters
        ----------
        X : ndarray (n, T, C), Y : ndarray (n, T or 1, K), sw : ndarray (n,)
            Validated, prepared training data in the network's dtype.
        epochs : int
        rng : numpy.random.RandomState
            Source of the shuffles and dropout masks.
        validation : tuple (X, Y, sw, groups[, lengths]) or None
            Held-out data for early stopping; the best weights on it are restored.
        groups : ndarray of int64 (n,), optional
            Each training sample's embedding row, for a network with an embedding.
        lengths : ndarray of int64 (n,), optional
            Each sequence's length in a zero-padded ``X`` (variable-length
            sequences); the epoch's loss is then the mean over real steps.

        Returns
        -------
        {"converged", "max_iter", "diverged", "interrupted"}
        """
        cfg = self.config
        n_threads = threads.resolve_n_jobs(cfg.n_jobs)
        bar = _progress(epochs, cfg.verbose, self.net)
        reason = "max_iter"
        try:
            with interrupts.deferred(raise_on_exit=False), threads.blas_single_thread():
                self._scope = interrupts.token()
                for _ in range(epochs):
                    reason = self._run_epoch(X, Y, sw, rng, groups, n_threads, validation, bar,
                                             lengths)
                    if reason is not None:
                        break
                else:
                    reason = "max_iter"
        except BaseException as exc:
            # a forced (second) Ctrl-C raises wherever it lands, also inside a kernel call
            if not interrupts.is_interrupt(exc):
                raise
            reason = "interrupted"
        finally:
            if bar is not None:
                bar.close()
        self._finish(reason, validation is not None)
        return reason

    def _run_epoch(self, X, Y, sw, rng, groups, n_threads, validation, bar, lengths=None):
        """One epoch and its bookkeeping; why training stops now, or None."""
        self._epoch_start[...] = self.net.params
        loss = self._epoch(X, Y, sw, rng, groups, n_threads, lengths)
        if loss is None:
            return "interrupted"
        if not math.isfinite(loss) or (self.loss_curve and loss > DIVERGENCE_FACTOR
                                         * max(self.loss_curve[0], 1e-12)):
            return "diverged"
        vloss = None
        if validation is not None:
            vloss = self.evaluate(*validation, n_threads=n_threads)
            if not math.isfinite(vloss):
                return "diverged"
        # the history of a finished epoch is recorded together (an interrupt is taken only
        # between minibatches), so n_iter and the curves always agree
        self.n_iter += 1
        self.loss_curve.append(loss)
        if vloss is not None:
            self.validation_scores.append(-vloss)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(self._postfix(), refresh=False)
        if self._check_stop(validation is not None):
            return "converged"
        return "interrupted" if interrupts.requested(self._scope) else None

    def _rows(self, sw, lengths):
        """The weight of a minibatch's loss in the epoch's mean: its samples' weights, or
        with variable lengths and a loss at every step, their weighted real steps."""
        if lengths is None or not self.config.return_sequences:
            return float(sw.sum(dtype=np.float64))
        return float(sw.astype(np.float64) @ lengths)

    def _epoch(self, X, Y, sw, rng, groups, n_threads, lengths=None):
        cfg = self.config
        net = self.net
        n, T, _ = X.shape
        order = rng.permutation(n) if cfg.shuffle else None
        code = LOSS_CODES[cfg.loss]
        trunc = truncation(cfg.bptt_steps, T)
        total = 0.0
        work = self._workspace
        for start in range(0, n, cfg.batch_size):
            stop = start + cfg.batch_size
            if order is None:
                idx = slice(start, stop)
                xb, yb, wb = X[idx], Y[idx], sw[idx]
            else:  # gathered into the fit's own buffers: no allocation per minibatch
                idx = order[start:stop]
                if lengths is not None:
                    # gathered in length order, so that the kernel call's chunks are
                    # already bucketed (no second, sorted copy of the minibatch)
                    idx = idx[np.argsort(lengths[idx], kind="stable")]
                m = len(idx)
                xb = np.take(X, idx, axis=0, out=work.get("xb", (m,) + X.shape[1:], X.dtype))
                yb = np.take(Y, idx, axis=0, out=work.get("yb", (m,) + Y.shape[1:], Y.dtype))
                wb = np.take(sw, idx, out=work.get("wb", (m,), sw.dtype))
            lb = None if lengths is None else lengths[idx]
            wsum = self._rows(wb, lb)
            if wsum <= 0:
                continue
            masks = self._dropout_masks(xb.shape[0], T, rng, lb)
            gb = None if groups is None else groups[idx]
            loss, grad, _ = net._kernel_loss_grad(xb, yb, wb, code, self._qs, cfg.huber_delta,
                                                  cfg.return_sequences, trunc, masks,
                                                  n_threads=n_threads, groups=gb,
                                                  workspace=self._workspace,
                                                  state=sequences.Batch(lb))
            if not (math.isfinite(loss) and np.isfinite(grad).all()):
                return math.nan
            if interrupts.requested(self._scope):
                # Ctrl-C: this epoch is abandoned before the update (_finish restores the
                # best weights so far)
                return None
            self.optimizer.step(net.params, grad)
            total += loss * wsum
        self.t += n
        loss = total / self._rows(sw, lengths)
        if cfg.alpha:
            w = net.params[net.weight_mask].astype(np.float64)
            loss += 0.5 * cfg.alpha * float(w @ w)
        return loss

    def _dropout_masks(self, m, T, rng, lengths=None):
        """Inverted-dropout masks of a minibatch.  With ``lengths`` drawn over its longest
        sequence's steps only (the kernels never read past it), so that the draw does not
        depend on how wide the padded array is: a list of sequences and the same sequences
        NaN-padded to any width train alike."""
        net = self.net
        p = self.config.dropout
        if p == 0 or net.num_layers == 1:
            return None
        steps = T if lengths is None else int(lengths.max())
        keep = rng.random_sample((net.num_layers - 1, m, steps, net.hidden_size)) >= p
        masks = (keep * (1.0 / (1.0 - p))).astype(net.dtype)
        if steps == T:
            return masks
        full = np.ones((net.num_layers - 1, m, T, net.hidden_size), net.dtype)
        full[:, :, :steps] = masks
        return full

    def evaluate(self, X, Y, sw, groups=None, lengths=None, *, n_threads=1):
        """Loss of the current weights on prepared data (forward pass only, no dropout)."""
        cfg = self.config
        if float(sw.sum(dtype=np.float64)) <= 0:
            return math.nan
        return self.net._kernel_loss(X, Y, sw, LOSS_CODES[cfg.loss], self._qs, cfg.huber_delta,
                                     cfg.return_sequences, n_threads, groups, self._workspace,
                                     sequences.Batch(lengths))

    # ------------------------------------------------------------- stopping
    def _check_stop(self, use_validation):
        """scikit-learn MLP's rule: stop (or lower the rate) after a plateau of
        ``n_iter_no_change`` epochs without an improvement of at least ``tol``."""
        cfg = self.config
        if use_validation:
            score = self.validation_scores[-1]
            best = self.best_validation_score
            improved = best is None or score > best + cfg.tol
            if best is None or score > best:
                self.best_validation_score = score
                self._best_params[...] = self.net.params
        else:
            loss = self.loss_curve[-1]
            improved = loss < self.best_loss - cfg.tol
        if self.loss_curve[-1] < self.best_loss:
            self.best_loss = self.loss_curve[-1]
            if not use_validation:
                # the best epoch's loss was measured from the weights it started with; its
                # last update may have blown them up (a rate far too high), so those are
                # what a divergence or an interrupt restores
                self._best_params[...] = self._epoch_start
        self._stall = 0 if improved else self._stall + 1
        if self._stall < cfg.n_iter_no_change:
            return False
        if cfg.learning_rate == "plateau":
            opt = self.optimizer
            opt.learning_rate /= PLATEAU_FACTOR
            self._stall = 0
            if cfg.verbose:
                print(f"tsrnn: plateau, learning rate lowered to {opt.learning_rate:.3g}")
            return opt.learning_rate < MIN_LEARNING_RATE
        return True

    def _finish(self, reason, use_validation):
        if reason == "diverged":
            self.net.params[...] = self._best_params
            warnings.warn(
                f"Training diverged in epoch {self.n_iter + 1}: the loss or a gradient became "
                f"non-finite, or the loss grew over {DIVERGENCE_FACTOR:.0e} times the first "
                "epoch's. The best weights so far (those the best epoch started from, "
                f"or the validation's best) were restored (after {self.n_iter} "
                "epochs). Try a lower `learning_rate_init`, `clip_norm`, or scaled inputs.",
                DivergenceWarning, stacklevel=6,
            )
        elif reason == "interrupted":
            # a partial epoch's updates are dropped: the best weights so far (before any epoch
            # has finished, the initial ones)
            self.net.params[...] = self._best_params
            if not interrupts.will_raise():
                warnings.warn(f"Training interrupted after {self.n_iter} epochs; the best "
                              "weights so far were kept.", UserWarning, stacklevel=6)
        elif use_validation and self.best_validation_score is not None:
            self.net.params[...] = self._best_params

    def _postfix(self):
        out = {"loss": f"{self.loss_curve[-1]:.4g}"}
        if self.validation_scores:
            out["val_loss"] = f"{-self.validation_scores[-1]:.4g}"
        return out


def _progress(total, verbose, net):
    """A progress bar over the epochs (when ``verbose``), after a word on compiling when
    the network's kernels are not compiled yet."""
    if not verbose:
        return None
    if not is_compiled(drivers.RUN[net.cell], net.dtype):
        print(f"tsrnn: compiling the {net.cell.upper()} kernels ({np.dtype(net.dtype).name}) "
              "for first use; they are cached for later runs.", file=sys.stderr, flush=True)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="tsrnn fit", unit="epoch", leave=True)
