"""tsrnn.metrics: hand-computed values, agreement with scikit-learn, input checks, scorers."""

import ast
import copy
import inspect
import pathlib
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score

from tsrnn import metrics
from tsrnn.metrics import (
    coverage,
    interval_width,
    mae,
    mae_scorer,
    make_mase_scorer,
    make_rmsse_scorer,
    mase,
    pinball,
    rmse,
    rmse_scorer,
    rmsse,
    smape,
    smape_scorer,
)

# ---------------------------------------------------------------------------
# the module itself
# ---------------------------------------------------------------------------


def test_imports_no_numba_and_no_kernels():
    tree = ast.parse(pathlib.Path(metrics.__file__).read_text())
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mods.add(node.module)
    assert mods <= {"__future__", "numpy", "pandas", "sklearn.metrics", "tsrnn._validation"}, mods


def test_all_is_the_public_api_and_documented():
    public = {n for n, v in vars(metrics).items()
              if not n.startswith("_") and getattr(v, "__module__", None) == metrics.__name__}
    assert set(metrics.__all__) == public | {"mae_scorer", "rmse_scorer", "smape_scorer"}
    for name in metrics.__all__:
        assert name in metrics.__doc__, name
        obj = getattr(metrics, name)
        if inspect.isfunction(obj):
            doc = inspect.getdoc(obj)
            for section in ("Parameters\n----------", "Returns\n-------"):
                assert section in doc, (name, section)


# ---------------------------------------------------------------------------
# hand-computed values
# ---------------------------------------------------------------------------


def test_mae_by_hand():
    assert mae([1, 2, 3, 4], [2, 2, 5, 0]) == 1.75  # (1 + 0 + 2 + 4) / 4
    assert mae([1, 2, 3, 4], [2, 2, 5, 0], sample_weight=[1, 0, 1, 2]) == 2.75  # 11 / 4
    yt, yp = [[1, 10], [2, 20]], [[0, 12], [4, 23]]
    np.testing.assert_array_equal(mae(yt, yp, multioutput="raw_values"), [1.5, 2.5])
    assert mae(yt, yp) == 2.0
    assert mae(yt, yp, multioutput=[3, 1]) == 1.75


def test_rmse_by_hand_root_per_column():
    assert rmse([0, 0, 0, 0], [1, -1, 3, -3]) == pytest.approx(np.sqrt(5))
    yt, yp = np.zeros((2, 2)), [[3, 0], [4, 0]]
    np.testing.assert_allclose(rmse(yt, yp, multioutput="raw_values"), [np.sqrt(12.5), 0])
    assert rmse(yt, yp) == pytest.approx(np.sqrt(12.5) / 2)  # not sqrt(25 / 4) = 2.5
    assert rmse([0, 0, 0], [1, 2, 4], sample_weight=[2, 1, 1]) == pytest.approx(np.sqrt(22 / 4))


def test_mase_by_hand():
    y_train = [1, 3, 2, 5, 4]  # lag-1 diffs 2, 1, 3, 1: scale 7/4; lag-2 diffs 1, 2, 2: 5/3
    assert mase([4, 6], [5, 2], y_train=y_train) == pytest.approx(2.5 / 1.75)
    assert mase([4, 6], [5, 2], y_train=y_train, m=2) == pytest.approx(1.5)
    # weights apply to the errors only: (1 * 1 + 3 * 4) / 4 over the same scale
    assert mase([4, 6], [5, 2], y_train=y_train, sample_weight=[1, 3]) == pytest.approx(
        (13 / 4) / 1.75)


def test_mase_skips_nan_pairs_in_y_train():
    y_train = [1, np.nan, 4, 6, np.nan, 7, 10]
    # m=1 pairs: (4, 6) and (7, 10) -> scale 2.5; m=2 pairs: (1, 4), (6, 7) -> scale 2
    assert mase([0], [5], y_train=y_train) == pytest.approx(5 / 2.5)
    assert mase([0], [5], y_train=y_train, m=2) == pytest.approx(5 / 2)
    y2 = np.array([[1, 0], [np.nan, 2], [3, np.nan], [4, 8], [6, 9]])
    # column 0 pairs (3, 4), (4, 6): 1.5; column 1 pairs (0, 2), (8, 9): 1.5
    got = mase([[0, 0]], [[3, 6]], y_train=y2, multioutput="raw_values")
    np.testing.assert_allclose(got, [2.0, 4.0])
    assert mase([0], [5], y_train=pd.Series(y_train, dtype="Float64")) == pytest.approx(2.0)


def test_rmsse_by_hand():
    y_train = [0, 2, 0, 2, 0]  # squared lag-1 diffs all 4
    assert rmsse([1, 1], [1, 5], y_train=y_train) == pytest.approx(np.sqrt(2))  # sqrt(8 / 4)
    assert mase([1, 1], [1, 5], y_train=y_train) == pytest.approx(1.0)  # 2 / 2
    # m=2: squared diffs 0, 0, 0 -> zero scale
    with pytest.raises(ValueError, match="`y_train` gives a zero scale"):
        rmsse([1, 1], [1, 5], y_train=y_train, m=2)
    y2 = np.column_stack([[0, 1, 3, 6], [0, 3, 0, 3]])  # scales (1+4+9)/3, 9
    got = rmsse(np.zeros((2, 2)), [[2, 3], [2, 3]], y_train=y2, multioutput="raw_values")
    np.testing.assert_allclose(got, [np.sqrt(4 / (14 / 3)), 1.0])


def test_smape_by_hand():
    got = smape([100, -50, 0, 0, 10], [120, 50, 0, 3, 10])
    assert got == pytest.approx((200 * 20 / 220 + 200 + 0 + 200 + 0) / 5)
    assert smape([0, 0], [0, 0]) == 0.0
    assert smape([1, 2], [1, 2]) == 0.0


def test_pinball_by_hand():
    yq = [[0, 1, 2], [2, 2, 2], [3, 5, 1]]
    # q=0.1: 0.1 + 0 + 0; q=0.5: 0 + 0 + 1; q=0.9: 0.1 + 0 + 1.8 -> (0.1 + 1 + 1.9) / 9
    assert pinball([1, 2, 3], yq, [0.1, 0.5, 0.9]) == pytest.approx(1 / 3)
    assert pinball([1, 2, 3], np.array(yq)[:, :1], 0.1) == pytest.approx(0.1 / 3)
    assert pinball([1, 2, 3], yq, [0.1, 0.5, 0.9], sample_weight=[0, 0, 1]) == pytest.approx(
        (0 + 1 + 1.8) / 3)


def test_coverage_and_width_by_hand():
    assert coverage([1, 2, 3, 4], [0, 2, 3.5, 0], [2, 3, 4, 3]) == 0.5
    assert coverage([1, 2], [1, 2], [1, 2]) == 1.0  # bounds included
    assert coverage([1, 2], [2, 0], [0, 1]) == 0.0  # crossed interval holds nothing
    assert coverage([[1, 5], [2, 6]], [[0, 6], [0, 6]], [[1, 7], [3, 6]]) == 0.75
    assert interval_width([0, 1], [2, 4]) == 2.5
    assert interval_width([[0, 1], [2, 3]], [[1, 1], [5, 3]]) == 1.0
    assert interval_width([3, 3], [3, 3]) == 0.0


def test_return_types():
    assert type(mae([1, 2], [2, 2])) is float
    assert type(mase([1, 2], [2, 2], y_train=[0, 1])) is float
    raw = mae([1, 2], [2, 2], multioutput="raw_values")
    assert isinstance(raw, np.ndarray) and raw.shape == (1,)
    assert type(pinball([1, 2], [[0], [1]], [0.5])) is float
    assert type(coverage([1], [0], [2])) is float
    assert type(interval_width([1], [2])) is float


# ---------------------------------------------------------------------------
# agreement with scikit-learn
# ---------------------------------------------------------------------------


# output weights only with several outputs: sklearn refuses them for one
@pytest.mark.parametrize("shape, multioutput", [
    (shape, mo) for shape in [(30,), (30, 1), (30, 3)] for mo in ["raw_values", "uniform_average"]
] + [((30, 3), "weights")])
@pytest.mark.parametrize("weighted", [False, True])
def test_mae_rmse_match_sklearn(shape, weighted, multioutput):
    rng = np.random.default_rng(1)
    yt, yp = rng.normal(size=shape), rng.normal(size=shape)
    w = rng.random(shape[0]) if weighted else None
    mo = rng.random(shape[-1]) if multioutput == "weights" else multioutput
    for ours, theirs in ((mae, skm.mean_absolute_error), (rmse, skm.root_mean_squared_error)):
        np.testing.assert_allclose(ours(yt, yp, sample_weight=w, multioutput=mo),
                                   theirs(yt, yp, sample_weight=w, multioutput=mo), rtol=1e-12)


@pytest.mark.parametrize("n_outputs", [None, 1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_pinball_matches_sklearn_per_level(n_outputs, weighted):
    rng = np.random.default_rng(2)
    qs = [0.05, 0.3, 0.5, 0.95]
    shape = (40,) if n_outputs is None else (40, n_outputs)
    yt = rng.normal(size=shape)
    yq = rng.normal(size=shape + (len(qs),))
    w = rng.random(40) if weighted else None
    want = np.mean([skm.mean_pinball_loss(yt, yq[..., j], alpha=q, sample_weight=w)
                    for j, q in enumerate(qs)])
    assert pinball(yt, yq, qs, sample_weight=w) == pytest.approx(want, rel=1e-12)
    for j, q in enumerate(qs):  # one level at a time
        assert pinball(yt, yq[..., j:j + 1], [q], sample_weight=w) == pytest.approx(
            skm.mean_pinball_loss(yt, yq[..., j], alpha=q, sample_weight=w), rel=1e-12)


# ---------------------------------------------------------------------------
# properties of the scaled errors and of sMAPE
# ---------------------------------------------------------------------------


def _trend_season(n, m=4, slope=0.5):
    t = np.arange(n)
    return np.array([1.0, 5.0, 2.0, 8.0])[t % m] + slope * t


def test_mase_of_the_seasonal_naive_forecast():
    m, slope = 4, 0.5
    y = _trend_season(28, m, slope)
    y_train, y_test = y[:20], y[20:]
    naive = np.tile(y_train[-m:], 2)  # the last season, repeated
    # in-sample naive errors are all slope * m; out of sample slope * m (h <= m), 2 slope m
    assert mase(y_test[:m], naive[:m], y_train=y_train, m=m) == pytest.approx(1.0)
    assert mase(y_test, naive, y_train=y_train, m=m) == pytest.approx(1.5)
    assert rmsse(y_test, naive, y_train=y_train, m=m) == pytest.approx(np.sqrt(2.5))
    # the naive forecast scored in-sample on the training series itself: exactly 1
    noisy = y + np.random.default_rng(3).normal(size=y.size)
    for f in (mase, rmsse):
        assert f(noisy[m:], noisy[:-m], y_train=noisy, m=m) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("c", [1e-3, 2.5, 1e4, -3.0])
@pytest.mark.parametrize("f", [mase, rmsse])
def test_scaled_errors_invariant_to_scale_and_shift(f, c):
    rng = np.random.default_rng(4)
    y_train, yt, yp = rng.normal(size=50), rng.normal(size=10), rng.normal(size=10)
    base = f(yt, yp, y_train=y_train, m=3)
    assert f(c * yt, c * yp, y_train=c * y_train, m=3) == pytest.approx(base, rel=1e-10)
    assert f(yt + 7, yp + 7, y_train=y_train + 7, m=3) == pytest.approx(base, rel=1e-10)
    assert mae(c * yt, c * yp) == pytest.approx(abs(c) * mae(yt, yp))  # unlike the MAE


def test_smape_bounds_and_symmetry():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(200, 2)), rng.normal(size=(200, 2))
    b[:20] = 0.0
    a[10:30] = 0.0
    raw = smape(a, b, multioutput="raw_values")
    assert ((raw >= 0) & (raw <= 200)).all()
    assert smape(a, b) == pytest.approx(smape(b, a))
    assert smape([1, -2, 3], [-1, 2, -3]) == 200.0  # opposite signs: the maximum
    assert smape([0, 0, 5], [4, 0, 0]) == pytest.approx(400 / 3)  # 200, 0 (0/0), 200


# ---------------------------------------------------------------------------
# pandas inputs, no mutation
# ---------------------------------------------------------------------------


def test_pandas_inputs_by_position():
    idx = pd.date_range("2024-01-01", periods=4, freq="D")
    yt = pd.Series([1.0, 2, 3, 4], index=idx)
    yp = pd.Series([2.0, 2, 5, 0], index=[9, 8, 7, 6])  # another index: ignored
    assert mae(yt, yp) == 1.75
    df_t = pd.DataFrame({"a": [1, 2], "b": [10, 20]})
    df_p = pd.DataFrame({"a": [0, 4], "b": [12, 23]})
    np.testing.assert_array_equal(mae(df_t, df_p, multioutput="raw_values"), [1.5, 2.5])
    train = pd.DataFrame({"a": [1.0, np.nan, 3, 4, 6], "b": [0.0, 2, np.nan, 8, 9]})
    assert mase(df_t, df_p, y_train=train) == pytest.approx(
        mase(df_t.to_numpy(), df_p.to_numpy(), y_train=train.to_numpy()))
    assert coverage(yt, yt - 1, yp) == 0.75
    assert interval_width(yt, yt + 2) == 2.0
    assert pinball(yt, pd.DataFrame({"q1": yp, "q9": yp + 1}), [0.1, 0.9]) > 0


def _all_calls(yt, yp, lo, hi, yq, w, y_train):
    return [
        lambda: mae(yt, yp, sample_weight=w, multioutput="raw_values"),
        lambda: rmse(yt, yp, sample_weight=w),
        lambda: smape(yt, yp, sample_weight=w),
        lambda: mase(yt, yp, y_train=y_train, m=2, sample_weight=w),
        lambda: rmsse(yt, yp, y_train=y_train, m=2),
        lambda: pinball(yt, yq, [0.1, 0.9], sample_weight=w),
        lambda: coverage(yt, lo, hi),
        lambda: interval_width(lo, hi),
    ]


@pytest.mark.parametrize("kind", ["numpy", "readonly", "pandas", "list"])
def test_inputs_not_mutated(kind):
    rng = np.random.default_rng(6)
    yt = rng.normal(size=12)
    args = {"yt": yt, "yp": yt + rng.normal(size=12), "lo": yt - 1, "hi": yt + 1,
            "yq": np.column_stack([yt - 1, yt + 1]), "w": rng.random(12),
            "y_train": np.r_[rng.normal(size=10), np.nan, rng.normal(size=10)]}
    if kind == "readonly":  # any write would raise
        for v in args.values():
            v.flags.writeable = False
    elif kind == "pandas":
        args = {k: pd.DataFrame(v) if v.ndim == 2 else pd.Series(v) for k, v in args.items()}
    elif kind == "list":
        args = {k: v.tolist() for k, v in args.items()}
    before = copy.deepcopy(args)
    for call in _all_calls(**args):
        call()
    for k, v in args.items():
        np.testing.assert_array_equal(np.asarray(v), np.asarray(before[k]), err_msg=k)
        assert type(v) is type(before[k])


# ---------------------------------------------------------------------------
# bad inputs: the argument is named
# ---------------------------------------------------------------------------

_Y = [1.0, 2.0, 3.0]
_TRAIN = [1.0, 3.0, 2.0, 5.0]
BAD = {
    "shape_mismatch": (lambda: mae(_Y, _Y[:2]), ValueError,
                       r"`y_true` and `y_pred` must have the same shape, got \(3,\) and \(2,\)"),
    "shape_2d_vs_1d": (lambda: rmse([[1.0], [2.0], [3.0]], _Y), ValueError,
                       r"got \(3, 1\) and \(3,\)"),
    "nan_pred": (lambda: mae(_Y, [1, np.nan, 3]), ValueError, r"`y_pred` must be finite.*nan"),
    "inf_true": (lambda: smape([1, np.inf, 3], _Y), ValueError, r"`y_true` must be finite.*inf"),
    "pd_na_true": (lambda: mae(pd.Series([1, None, 3], dtype="Float64"), _Y), ValueError,
                   "`y_true` must be finite"),
    "empty": (lambda: mae([], []), ValueError, r"`y_true` must not be empty, got shape \(0,\)"),
    "empty_columns": (lambda: mae(np.zeros((3, 0)), np.zeros((3, 0))), ValueError,
                      "`y_true` must not be empty"),
    "3d": (lambda: mae(np.zeros((2, 2, 2)), np.zeros((2, 2, 2))), ValueError,
           r"`y_true` must be 1 or 2-D, got shape \(2, 2, 2\)"),
    "strings": (lambda: mae(_Y, ["a", "b", "c"]), TypeError, "`y_pred` must hold numbers"),
    "ragged": (lambda: mae([[1, 2], [3]], _Y), ValueError, "`y_true` could not be read"),
    "multioutput_name": (lambda: mae(_Y, _Y, multioutput="mean"), ValueError,
                         "`multioutput`='mean' must be one of"),
    "multioutput_len": (lambda: mae([[1, 2]], [[1, 2]], multioutput=[1, 2, 3]), ValueError,
                        "`multioutput` has 3 entries but there are 2 outputs"),
    "multioutput_zero": (lambda: mae([[1, 2]], [[1, 2]], multioutput=[0, 0]), ValueError,
                         r"`multioutput`=\[0, 0\] must be >= 0 with a positive sum"),
    "weight_len": (lambda: mae(_Y, _Y, sample_weight=[1, 2]), ValueError,
                   "`sample_weight` has 2 entries but there are 3 samples"),
    "weight_negative": (lambda: rmse(_Y, _Y, sample_weight=[1, -1, 1]), ValueError,
                        r"`sample_weight`=\[1, -1, 1\] must be >= 0"),
    "weight_zero_sum": (lambda: smape(_Y, _Y, sample_weight=[0, 0, 0]), ValueError,
                        "`sample_weight`=.* positive sum"),
    "weight_nan": (lambda: mae(_Y, _Y, sample_weight=[1, np.nan, 1]), ValueError,
                   "`sample_weight` must be finite"),
    "weight_2d": (lambda: mae(_Y, _Y, sample_weight=[[1, 1, 1]]), ValueError,
                  "`sample_weight` must be 1-D"),
    "m_zero": (lambda: mase(_Y, _Y, y_train=_TRAIN, m=0), ValueError,
               "`m`=0 must be an int >= 1"),
    "m_float": (lambda: rmsse(_Y, _Y, y_train=_TRAIN, m=1.5), TypeError,
                "`m`=1.5 must be an int >= 1"),
    "m_bool": (lambda: mase(_Y, _Y, y_train=_TRAIN, m=True), TypeError, "`m`=True"),
    "train_short": (lambda: mase(_Y, _Y, y_train=_TRAIN, m=4), ValueError,
                    r"`y_train` of shape \(4,\) needs.*`m`=4"),
    "train_gaps": (lambda: mase(_Y, _Y, y_train=[1, np.nan, 3, np.nan]), ValueError,
                   "`y_train` .*column 0 has none"),
    "train_gaps_one_column": (lambda: mase([[1, 2]], [[1, 2]], y_train=[[1, 1], [2, np.nan]]),
                              ValueError, "`y_train` .*column 1 has none"),
    "train_constant": (lambda: mase(_Y, _Y, y_train=[5, 5, 5, 5]), ValueError,
                       "`y_train` gives a zero scale in column 0"),
    "train_constant_rmsse": (lambda: rmsse(_Y, _Y, y_train=[[1.0], [1.0]]), ValueError,
                             "`y_train` gives a zero scale"),
    "train_periodic": (lambda: mase(_Y, _Y, y_train=[1, 2, 1, 2], m=2), ValueError,
                       "`y_train` gives a zero scale.*`m`=2"),
    "train_inf": (lambda: mase(_Y, _Y, y_train=[1, np.inf, 3]), ValueError,
                  "`y_train` must be finite"),
    "train_strings": (lambda: mase(_Y, _Y, y_train=["a", "b"]), TypeError,
                      "`y_train` must hold numbers"),
    "train_columns": (lambda: mase(_Y, _Y, y_train=np.ones((5, 2))), ValueError,
                      "`y_train` has 2 column"),
    "train_3d": (lambda: rmsse(_Y, _Y, y_train=np.ones((5, 1, 1))), ValueError,
                 "`y_train` must be 1 or 2-D"),
    "q_high": (lambda: pinball(_Y, np.ones((3, 1)), [1.0]), ValueError,
               r"`quantiles`=1.0 must be a finite number > 0 and < 1"),
    "q_zero": (lambda: pinball(_Y, np.ones((3, 2)), [0.5, 0]), ValueError, "`quantiles`=0.0"),
    "q_nan": (lambda: pinball(_Y, np.ones((3, 1)), [np.nan]), ValueError, "`quantiles`=nan"),
    "q_empty": (lambda: pinball(_Y, np.ones((3, 1)), []), ValueError, r"`quantiles`=\[\]"),
    "q_2d": (lambda: pinball(_Y, np.ones((3, 1)), [[0.5]]), ValueError, "`quantiles`="),
    "q_string": (lambda: pinball(_Y, np.ones((3, 1)), ["a"]), TypeError, "`quantiles`='a'"),
    "yq_levels": (lambda: pinball(_Y, np.ones((3, 2)), [0.5]), ValueError,
                  r"`y_quantiles` must have shape \(3, 1\) .* got \(3, 2\)"),
    "yq_outputs": (lambda: pinball(np.ones((3, 2)), np.ones((3, 1)), [0.5]), ValueError,
                   r"`y_quantiles` must have shape \(3, 2, 1\)"),
    "yq_1d": (lambda: pinball(_Y, _Y, [0.5]), ValueError, "`y_quantiles` must be 2 or 3-D"),
    "yq_nan": (lambda: pinball(_Y, [[1], [np.nan], [2]], [0.5]), ValueError,
               "`y_quantiles` must be finite"),
    "pinball_empty": (lambda: pinball([], np.ones((0, 1)), [0.5]), ValueError,
                      "`y_true` must not be empty"),
    "pinball_weight": (lambda: pinball(_Y, np.ones((3, 1)), [0.5], sample_weight=[1]),
                       ValueError, "`sample_weight` has 1 entries"),
    "coverage_lower": (lambda: coverage(_Y, [0, 0], _Y), ValueError,
                       "`y_true` and `lower` must have the same shape"),
    "coverage_upper": (lambda: coverage(_Y, _Y, [[4, 4, 4]]), ValueError,
                       "`y_true` and `upper` must have the same shape"),
    "coverage_nan": (lambda: coverage(_Y, _Y, [4, np.nan, 4]), ValueError,
                     "`upper` must be finite"),
    "width_crossed": (lambda: interval_width([0, 5, 0], [1, 4, 1]), ValueError,
                      r"`upper` must be >= `lower`; at row 1, column 0: `upper`=4.0 < `lower`=5.0"),
    "width_shape": (lambda: interval_width([0, 1], [1]), ValueError,
                    "`lower` and `upper` must have the same shape"),
    "width_empty": (lambda: interval_width([], []), ValueError, "`lower` must not be empty"),
    "scorer_m": (lambda: make_mase_scorer(m=0), ValueError, "`m`=0"),
    "scorer_m_type": (lambda: make_rmsse_scorer(m="12"), TypeError, "`m`='12'"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_names_the_argument(case):
    call, exc, match = BAD[case]
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------------------
# scorers in scikit-learn model selection
# ---------------------------------------------------------------------------


def _lagged(n=120, m=12, outputs=1, seed=0):
    """Lags 1..3 of a noisy trend-plus-season series (one series per output) and the target."""
    rng = np.random.default_rng(seed)
    t = np.arange(n + 3)[:, None]
    s = 10 + 0.05 * t + 3 * np.sin(2 * np.pi * t / m + np.arange(outputs)) \
        + rng.normal(scale=0.5, size=(n + 3, outputs))
    X = np.column_stack([s[2:-1], s[1:-2], s[:-3]])
    y = s[3:]
    return X, (y[:, 0] if outputs == 1 else y)


def _fold_predictions(X, y, cv):
    for train, test in cv.split(X):
        yield y[test], Ridge(alpha=1.0).fit(X[train], y[train]).predict(X[test])


def _mase_by_hand(yt, yp, m):
    return np.mean(np.abs(yt - yp)) / np.mean(np.abs(yt[m:] - yt[:-m]))


HAND = {
    "mae": (mae_scorer, lambda yt, yp: np.mean(np.abs(yt - yp))),
    "rmse": (rmse_scorer, lambda yt, yp: np.sqrt(np.mean((yt - yp) ** 2))),
    "smape": (smape_scorer,
              lambda yt, yp: np.mean(200 * np.abs(yp - yt) / (np.abs(yt) + np.abs(yp)))),
    "mase_m1": (make_mase_scorer(), lambda yt, yp: _mase_by_hand(yt, yp, 1)),
    "mase_m12": (make_mase_scorer(m=12), lambda yt, yp: _mase_by_hand(yt, yp, 12)),
    "rmsse_m12": (make_rmsse_scorer(12), lambda yt, yp: np.sqrt(
        np.mean((yt - yp) ** 2) / np.mean((yt[12:] - yt[:-12]) ** 2))),
}


@pytest.mark.parametrize("name", list(HAND))
def test_scorers_in_cross_val_score(name):
    scorer, by_hand = HAND[name]
    X, y = _lagged()
    cv = TimeSeriesSplit(n_splits=4)
    got = cross_val_score(Ridge(alpha=1.0), X, y, cv=cv, scoring=scorer)
    want = [-by_hand(yt, yp) for yt, yp in _fold_predictions(X, y, cv)]
    assert len(got) == 4 and (got < 0).all()
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_mase_scorer_two_outputs_scales_per_column():
    X, y = _lagged(outputs=2)
    cv = TimeSeriesSplit(n_splits=3)
    got = cross_val_score(Ridge(alpha=1.0), X, y, cv=cv, scoring=make_mase_scorer(m=12))
    want = [-np.mean([_mase_by_hand(yt[:, j], yp[:, j], 12) for j in range(2)])
            for yt, yp in _fold_predictions(X, y, cv)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_scorers_in_grid_search_and_pickle():
    X, y = _lagged()
    cv = TimeSeriesSplit(n_splits=3)
    scorer = pickle.loads(pickle.dumps(make_mase_scorer(m=12)))  # as for n_jobs > 1
    search = GridSearchCV(Ridge(), {"alpha": [0.01, 1e4]}, scoring=scorer, cv=cv).fit(X, y)
    assert search.best_params_ == {"alpha": 0.01}  # heavy shrinkage forecasts worse
    best = cross_val_score(Ridge(alpha=0.01), X, y, cv=cv, scoring=make_mase_scorer(m=12))
    assert search.best_score_ == pytest.approx(best.mean())
    for s in (mae_scorer, rmse_scorer, smape_scorer, make_rmsse_scorer(2)):
        est = Ridge().fit(X, y)
        assert pickle.loads(pickle.dumps(s))(est, X, y) == s(est, X, y) < 0


def test_fold_scorer_needs_more_than_m_rows_and_names_y_true():
    X, y = _lagged()
    est = Ridge().fit(X, y)
    with pytest.raises(ValueError, match=r"`y_true` of shape \(12,\) needs.*`m`=12"):
        make_mase_scorer(m=12)(est, X[:12], y[:12])
    assert make_mase_scorer(m=12)(est, X[:13], y[:13]) < 0
