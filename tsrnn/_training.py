"""The training loop: minibatches, shuffling, early stopping, schedules, progress, divergence.

It knows a :class:`~tsrnn.nn.Network` and the optimizers, and nothing of
scikit-learn estimators or pandas.  A :class:`Trainer` holds everything that
must survive between calls (optimizer moments, learning rate, history, the best
weights so far), so ``warm_start`` and ``partial_fit`` continue where the last
call stopped.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from tsrnn._jit import num_threads, resolve_n_jobs
from tsrnn._kernels.losses import CODES as LOSS_CODES
from tsrnn._optim import SGD, Adam

# Reduce-on-plateau: divide the learning rate by this after a plateau, stop below the floor.
PLATEAU_FACTOR = 5.0
MIN_LEARNING_RATE = 1e-6


@dataclass
class Embedding:
    """Learned vectors, one per group (a series), fed as the last input channels.

    ``table`` (groups, dim) is trained in place with its own optimizer, from
    the gradient of the loss with respect to those input channels, summed over
    each group's rows and steps: the network sees ``table[codes[i]]`` at every
    step of row ``i``.
    """

    table: np.ndarray
    codes: np.ndarray
    val_codes: np.ndarray | None = None

    @property
    def dim(self):
        return self.table.shape[1]

    def fill(self, X, codes, copy=True):
        """``X`` (a copy, unless ``copy=False``) with the embedding channels set from
        the table."""
        if copy:
            X = X.copy()
        X[:, :, -self.dim:] = self.table[codes][:, None, :]
        return X

    def gradient(self, dX, codes):
        """The loss gradient for the table, from the gradient for the inputs."""
        g = np.zeros(self.table.shape, np.float64)
        np.add.at(g, codes, dX[:, :, -self.dim:].sum(axis=1, dtype=np.float64))
        return g.astype(self.table.dtype)


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
        self.optimizer = self._optimizer(net.n_params, net.weight_mask)
        self.embedding = None
        self._embedding_optimizer = None
        self._best_table = None
        self.loss_curve = []
        self.validation_scores = []
        self.best_loss = math.inf
        self.best_validation_score = None
        self.t = 0
        self.n_iter = 0
        self._stall = 0
        self._best_params = net.params.copy()
        self._qs = (np.empty(0, net.dtype) if config.quantiles is None
                    else np.asarray(config.quantiles, net.dtype))

    def _optimizer(self, n_params, decay_mask):
        cfg = self.config
        common = dict(learning_rate=cfg.learning_rate_init, alpha=cfg.alpha,
                      decay_mask=decay_mask, clip_norm=cfg.clip_norm, dtype=self.net.dtype)
        if cfg.solver == "adam":
            return Adam(n_params, **common)
        return SGD(n_params, momentum=cfg.momentum, nesterov=cfg.nesterovs_momentum, **common)

    def _set_embedding(self, embedding):
        if embedding is not None and (self.embedding is None or
                                      self.embedding.table is not embedding.table):
            # its own optimizer; no weight decay (an embedding is not a weight)
            self._embedding_optimizer = self._optimizer(embedding.table.size, None)
        self.embedding = embedding
        self._best_table = None if embedding is None else embedding.table.copy()

    def _snapshot(self):
        self._best_params[...] = self.net.params
        if self.embedding is not None:
            self._best_table[...] = self.embedding.table

    def _restore(self):
        self.net.params[...] = self._best_params
        if self.embedding is not None:
            self.embedding.table[...] = self._best_table

    # ------------------------------------------------------------------ epochs
    def run(self, X, Y, sw, *, epochs, rng, validation=None, warn_max_iter=True, embedding=None):
        """Train for up to ``epochs`` epochs; returns why it stopped.

        Parameters
        ----------
        X : ndarray (n, T, C), Y : ndarray (n, T or 1, K), sw : ndarray (n,)
            Validated, prepared training data in the network's dtype.
        epochs : int
        rng : numpy.random.RandomState
            Source of the shuffles and dropout masks.
        validation : tuple (X, Y, sw) or None
            Held-out data for early stopping; the best weights on it are restored.
        warn_max_iter : bool
            Emit a ``ConvergenceWarning`` if ``epochs`` run out before convergence.
        embedding : Embedding, optional
            Learned per-group input channels (the last ``embedding.dim`` of
            ``X``), trained jointly; ``val_codes`` index the validation rows.

        Returns
        -------
        {"converged", "max_iter", "diverged", "interrupted"}
        """
        cfg = self.config
        self._set_embedding(embedding)
        bar = _progress(epochs, cfg.verbose)
        reason = "max_iter"
        try:
            with num_threads(resolve_n_jobs(cfg.n_jobs)):
                for _ in range(epochs):
                    loss = self._epoch(X, Y, sw, rng)
                    if not math.isfinite(loss):
                        reason = "diverged"
                        break
                    self.n_iter += 1
                    self.loss_curve.append(loss)
                    if validation is not None:
                        vloss = self.evaluate(*validation)
                        if not math.isfinite(vloss):
                            reason = "diverged"
                            break
                        self.validation_scores.append(-vloss)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(self._postfix(), refresh=False)
                    if self._check_stop(validation is not None):
                        reason = "converged"
                        break
        except KeyboardInterrupt:
            reason = "interrupted"
        finally:
            if bar is not None:
                bar.close()
        self._finish(reason, validation is not None, epochs, warn_max_iter)
        return reason

    def _epoch(self, X, Y, sw, rng):
        cfg = self.config
        net = self.net
        n, T, _ = X.shape
        order = rng.permutation(n) if cfg.shuffle else None
        code = LOSS_CODES[cfg.loss]
        trunc = cfg.bptt_steps or T
        emb = self.embedding
        total = 0.0
        for start in range(0, n, cfg.batch_size):
            stop = start + cfg.batch_size
            idx = slice(start, stop) if order is None else order[start:stop]
            xb, yb, wb = X[idx], Y[idx], sw[idx]
            wsum = float(wb.sum(dtype=np.float64))
            if wsum <= 0:
                continue
            masks = self._dropout_masks(xb.shape[0], T, rng)
            if emb is not None:
                codes = emb.codes[idx]
                # a shuffled batch is already a copy (fancy indexing); a slice is a view
                xb = emb.fill(xb, codes, copy=order is None)
            loss, grad, dX = net._kernel_loss_grad(xb, yb, wb, code, self._qs, cfg.huber_delta,
                                                   cfg.return_sequences, trunc, masks,
                                                   emb is not None)
            if not (math.isfinite(loss) and np.isfinite(grad).all()):
                return math.nan
            self.optimizer.step(net.params, grad)
            if emb is not None:
                g = emb.gradient(dX, codes)
                if not np.isfinite(g).all():
                    return math.nan
                self._embedding_optimizer.step(emb.table.reshape(-1), g.reshape(-1))
            total += loss * wsum
        self.t += n
        loss = total / float(sw.sum(dtype=np.float64))
        if cfg.alpha:
            w = net.params[net.weight_mask].astype(np.float64)
            loss += 0.5 * cfg.alpha * float(w @ w)
        return loss

    def _dropout_masks(self, m, T, rng):
        net = self.net
        p = self.config.dropout
        if p == 0 or net.num_layers == 1:
            return None
        keep = rng.random_sample((net.num_layers - 1, m, T, net.hidden_size)) >= p
        return (keep * (1.0 / (1.0 - p))).astype(net.dtype)

    def evaluate(self, X, Y, sw):
        """Loss of the current weights on prepared data (forward pass only, no dropout)."""
        cfg = self.config
        if float(sw.sum(dtype=np.float64)) <= 0:
            return math.nan
        if self.embedding is not None:
            X = self.embedding.fill(X, self.embedding.val_codes)
        return self.net._kernel_loss(X, Y, sw, LOSS_CODES[cfg.loss], self._qs, cfg.huber_delta,
                                     cfg.return_sequences)

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
                self._snapshot()
        else:
            loss = self.loss_curve[-1]
            improved = loss < self.best_loss - cfg.tol
        if self.loss_curve[-1] < self.best_loss:
            self.best_loss = self.loss_curve[-1]
            if not use_validation:
                self._snapshot()
        self._stall = 0 if improved else self._stall + 1
        if self._stall < cfg.n_iter_no_change:
            return False
        if cfg.learning_rate == "plateau":
            opt = self.optimizer
            opt.learning_rate /= PLATEAU_FACTOR
            if self._embedding_optimizer is not None:
                self._embedding_optimizer.learning_rate = opt.learning_rate
            self._stall = 0
            if cfg.verbose:
                print(f"tsrnn: plateau, learning rate lowered to {opt.learning_rate:.3g}")
            return opt.learning_rate < MIN_LEARNING_RATE
        return True

    def _finish(self, reason, use_validation, epochs, warn_max_iter):
        if reason == "diverged":
            self._restore()
            warnings.warn(
                f"Training diverged in epoch {self.n_iter + 1}: the loss or a gradient became "
                f"non-finite. The best weights so far were restored (after {self.n_iter} "
                "epochs). Try a lower `learning_rate_init`, `clip_norm`, or scaled inputs.",
                DivergenceWarning, stacklevel=5,
            )
        elif reason == "interrupted":
            if self.n_iter:
                self._restore()
            warnings.warn(f"Training interrupted after {self.n_iter} epochs; the best weights "
                          "so far were kept.", UserWarning, stacklevel=5)
        elif use_validation and self.best_validation_score is not None:
            self._restore()
        if reason == "max_iter" and warn_max_iter:
            warnings.warn(
                f"Stochastic optimizer: maximum iterations ({epochs}) reached and the "
                "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=5,
            )

    def _postfix(self):
        out = {"loss": f"{self.loss_curve[-1]:.4g}"}
        if self.validation_scores:
            out["val_loss"] = f"{-self.validation_scores[-1]:.4g}"
        return out


def _progress(total, verbose):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="tsrnn fit", unit="epoch", leave=True)
