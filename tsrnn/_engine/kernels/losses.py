"""Per-row losses with sample weights, and their gradients.

Rows are samples (many-to-one) or (step, sample) pairs (many-to-many).  Each
function returns the *unnormalised* weighted sum  sum_r w_r * l_r  in float64
and writes ``dP = w_r * dl_r/dP * scale``; the caller passes ``scale`` = 1 /
(sum of row weights * elements per row), so that the loss is a weighted mean
(``squared_error`` with unit weights is ``torch.nn.MSELoss()``).  Splitting the
sum from the normalisation lets batch chunks add their partial sums in a fixed
order.
"""

import math

import numpy as np

from tsrnn._engine.jit import njit

SQUARED_ERROR, ABSOLUTE_ERROR, HUBER, QUANTILE, CROSS_ENTROPY = 0, 1, 2, 3, 4
CODES = {
    "squared_error": SQUARED_ERROR,
    "absolute_error": ABSOLUTE_ERROR,
    "huber": HUBER,
    "quantile": QUANTILE,
    "cross_entropy": CROSS_ENTROPY,
}


@njit
def loss_rows(P, Y, w, code, qs, delta, scale, dP):
    """Weighted loss sum over rows and its scaled gradient.

    Parameters
    ----------
    P : (R, O) predictions (logits for cross-entropy).
    Y : (R, K) targets: K == O for the pointwise losses; K == O / len(qs) for
        ``quantile`` (column k*Q + q of P is target k at level qs[q]); K == 1
        holding the class index for cross-entropy.
    w : (R,) row weights.
    code : loss code (see ``CODES``).
    qs : (Q,) quantile levels (``quantile`` only).
    delta : Huber threshold.
    scale : normaliser applied to ``dP``.
    dP : (R, O) output.
    """
    R, O = P.shape
    total = 0.0
    if code == CROSS_ENTROPY:
        for r in range(R):
            mx = P[r, 0]
            for o in range(1, O):
                mx = max(mx, P[r, o])
            s = 0.0
            for o in range(O):
                s += math.exp(np.float64(P[r, o] - mx))
            lse = mx + math.log(s)
            k = int(Y[r, 0])
            total += w[r] * (lse - P[r, k])
            ws = w[r] * scale
            for o in range(O):
                dP[r, o] = ws * math.exp(np.float64(P[r, o] - lse))
            dP[r, k] -= ws
        return total
    Q = qs.shape[0]
    for r in range(R):
        acc = 0.0
        ws = w[r] * scale
        for o in range(O):
            if code == QUANTILE:
                q = qs[o % Q]
                e = Y[r, o // Q] - P[r, o]
                if e > 0:
                    acc += q * e
                    dP[r, o] = -q * ws
                elif e < 0:
                    acc += (q - 1) * e
                    dP[r, o] = (1 - q) * ws
                else:
                    dP[r, o] = 0
                continue
            e = P[r, o] - Y[r, o]
            if code == SQUARED_ERROR:
                acc += e * e
                dP[r, o] = 2 * e * ws
            elif code == ABSOLUTE_ERROR:
                acc += abs(e)
                dP[r, o] = ws * ((e > 0) - (e < 0))
            else:
                if abs(e) <= delta:
                    acc += 0.5 * e * e
                    dP[r, o] = e * ws
                else:
                    acc += delta * (abs(e) - 0.5 * delta)
                    dP[r, o] = delta * ws * ((e > 0) - (e < 0))
        total += w[r] * acc
    return total
