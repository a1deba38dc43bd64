"""scikit-learn's own estimator checks, the full list, on RNNRegressor and RNNClassifier as a
user constructs them: default parameters, on each cell (lstm, gru, rnn) in float32 (the
default), and the default cell in float64.

The float64 instances of the other two cells are left out for the suite's time budget, not
because they fail: they would add about 45 s (with ``TSRNN_ALL_CHECKS=1`` the float64
instances take 79 s of the checks, the float32 ones 65 s; 118 s and 54 s while float64
``tanh``/``exp`` were scalar libm calls, benchmarks/RESULTS.md "float64 vector math"); the
cells share every code path the checks reach but the layer kernels, which
tests/test_kernels.py checks in float64 against the NumPy references and PyTorch.  Run
them all with ``TSRNN_ALL_CHECKS=1``."""

import os

import numpy as np
import pytest
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from tsrnn import RNNClassifier, RNNRegressor

CELLS = ("lstm", "gru", "rnn")
DTYPES = (np.float32, np.float64)
ALL = os.environ.get("TSRNN_ALL_CHECKS") == "1"


def _wanted(cell, dtype):
    return ALL or dtype == np.float32 or cell == "lstm"


def _instances():
    """Each estimator on each cell and dtype, every other parameter at its default (only
    the non-default ones are set, so that the test ids read as the constructor calls)."""
    out = []
    for Est in (RNNRegressor, RNNClassifier):
        defaults = Est().get_params()
        for cell in CELLS:
            for dtype in filter(lambda d: _wanted(cell, d), DTYPES):
                params = {"cell": cell, "dtype": dtype}
                out.append(Est(**{k: v for k, v in params.items() if defaults[k] != v}))
    return out


# check_sample_weight_equivalence_on_dense_data fails everywhere: with the default
# batch_size="auto" the checks' 15-30 rows train in minibatches of 8, and a row of weight k
# and k copies of it do not fall into the same minibatches, so the sequences of optimizer
# steps differ.  Weights are equivalent to repetition when a fit's steps are the same: in a
# single full batch without shuffling (test_sample_weight_equivalence_full_batch below; the
# scaling statistics are sample-weighted).
SAMPLE_WEIGHTS = {
    "check_sample_weight_equivalence_on_dense_data":
        'minibatches of batch_size="auto" differ between weights and repetitions; '
        "full-batch equivalence is tested in test_sample_weight_equivalence_full_batch",
}
# check_methods_subset_invariance fails for the float32 GRU regressor: a row's prediction
# depends on its position in the batch by about 1e-7 relative (float32's own precision),
# because OpenBLAS rounds a GEMM row differently by its position in the block; the check
# compares at rtol 1e-7.  The classifier's argmax and the other cells pass.  Issue 16.
BATCH_POSITION = {
    "check_methods_subset_invariance":
        "float32 GRU: a row's prediction depends on its batch position by ~1e-7 (OpenBLAS "
        "rounds a GEMM row by its position in the block); issue 16",
}


def _expected_failures(est):
    """Every expected failure of ``est``, with its reason; all of them strict."""
    failures = dict(SAMPLE_WEIGHTS)
    if isinstance(est, RNNRegressor) and est.cell == "gru" and np.dtype(est.dtype) == np.float32:
        failures.update(BATCH_POSITION)
    return failures


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failures,
                         xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_every_cell_and_dtype_is_checked():
    got = sorted((type(e).__name__, e.cell, np.dtype(e.dtype).name) for e in _instances())
    assert got == sorted((Est.__name__, cell, np.dtype(dtype).name)
                         for Est in (RNNRegressor, RNNClassifier)
                         for cell in CELLS for dtype in DTYPES if _wanted(cell, dtype))
    assert len(got) == (12 if ALL else 8)


@pytest.mark.parametrize("Est", [RNNRegressor, RNNClassifier])
def test_sample_weight_equivalence_full_batch(Est):
    """Weight k equals repeating a row k times, also on data larger than the checks' own
    (a single full batch, no shuffling: the same sequence of optimizer steps)."""
    est = Est(hidden_size=8, batch_size=10_000, shuffle=False, max_iter=30,
              learning_rate_init=1e-2, random_state=0, dtype=np.float64)
    check_sample_weight_equivalence_on_dense_data(type(est).__name__, est)
