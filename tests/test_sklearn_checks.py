"""scikit-learn's own estimator checks on RNNRegressor (every cell) and RNNClassifier, tuned
for speed and with their default parameters."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from tsrnn import RNNClassifier, RNNRegressor

# Settings that train to a usable fit on the checks' small datasets quickly.  float64:
# check_methods_sample_order_invariance compares predictions of reordered rows at rtol 1e-7,
# and in float32 OpenBLAS rounds a row differently by its position in the GEMM block (about
# 1e-7 relative, float32's own precision); float64 brings that to ~1e-16.
# check_regressors_train asks for R^2 > 0.5; a patience of 30 epochs keeps a noisy plateau
# at this learning rate from ending training early (the GRU stopped at R^2 0.48 with 10).
FAST = dict(hidden_size=16, learning_rate_init=2e-2, max_iter=300, n_iter_no_change=30,
            random_state=0, dtype=np.float64)


def _instances():
    regs = [RNNRegressor(cell=cell, **FAST) for cell in ("rnn", "lstm", "gru")]
    # and as a user constructs them: the defaults (an LSTM in float32) pass the checks too
    # (46 s for both on 2 cores; the other cells and float64 pass as well when run by hand,
    # but for float32 GRU regression's check_methods_subset_invariance, issue 16)
    return regs + [RNNClassifier(**FAST), RNNRegressor(), RNNClassifier()]


# One expected failure: check_sample_weight_equivalence_on_dense_data.  With the default
# batch_size="auto" the checks' 15-30 rows train in minibatches of 8, and a row of weight k
# and k copies of it do not fall into the same minibatches, so the sequences of optimizer
# steps differ.  Weights are equivalent to repetition when a fit's steps are the same: in a
# single full batch without shuffling (test_sample_weight_equivalence_full_batch below; the
# scaling statistics are sample-weighted).  Strict: the check must keep failing here.
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data":
        'minibatches of batch_size="auto" differ between weights and repetitions; '
        "full-batch equivalence is tested in test_sample_weight_equivalence_full_batch",
}


@parametrize_with_checks(_instances(), expected_failed_checks=lambda est: EXPECTED_FAILURES,
                         xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("Est", [RNNRegressor, RNNClassifier])
def test_sample_weight_equivalence_full_batch(Est):
    """Weight k equals repeating a row k times, also on data larger than the checks' own
    (a single full batch, no shuffling: the same sequence of optimizer steps)."""
    est = Est(hidden_size=8, batch_size=10_000, shuffle=False, max_iter=30,
              learning_rate_init=1e-2, random_state=0, dtype=np.float64)
    check_sample_weight_equivalence_on_dense_data(type(est).__name__, est)
