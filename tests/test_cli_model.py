"""The command line's model and what it says about it: calibration that adapts to short series,
the season of each calendar, model options, the printed precision, the backtest's verdict."""

import types

import numpy as np
import pandas as pd
import pytest

from tsrnn._cli_base import in_options
from tsrnn._cli_format import decimals, forecast_table, verdict
from tsrnn._cli_model import default_season
from tsrnn.cli import main

# Box & Jenkins' monthly airline passengers (thousands), 1949-1960: 144 months
AIRLINE = [
    112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115, 126, 141, 135, 125, 149,
    170, 170, 158, 133, 114, 140, 145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166,
    171, 180, 193, 181, 183, 218, 230, 242, 209, 191, 172, 194, 196, 196, 236, 235, 229, 243,
    264, 272, 237, 211, 180, 201, 204, 188, 235, 227, 234, 264, 302, 293, 259, 229, 203, 229,
    242, 233, 267, 269, 270, 315, 364, 347, 312, 274, 237, 278, 284, 277, 317, 313, 318, 374,
    413, 405, 355, 306, 271, 306, 315, 301, 356, 348, 355, 422, 465, 467, 404, 347, 305, 336,
    340, 318, 362, 348, 363, 435, 491, 505, 404, 359, 310, 337, 360, 342, 406, 396, 420, 472,
    548, 559, 463, 407, 362, 405, 417, 391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432]
FAST = ["--max-iter", "3", "--hidden-size", "4", "-q"]


@pytest.fixture
def airline(tmp_path):
    path = tmp_path / "airline.csv"
    pd.DataFrame({"month": pd.date_range("1949-01", periods=144, freq="MS").strftime("%Y-%m"),
                  "passengers": AIRLINE}).to_csv(path, index=False)
    return str(path)


def test_the_airline_series_backtests_with_the_default_calibration(airline, capsys):
    """0.7 x 144 months leave 7 calibration windows at a tenth: too few for 90 % intervals
    (9 are needed); auto holds out enough."""
    assert main(["backtest", airline, "--target", "passengers", *FAST]) == 0
    out = capsys.readouterr().out
    assert "seasonal period m=12" in out and "coverage" in out and "interval_width" in out
    assert "MASE (lower is better)" in out and "seasonal naive (m=12)" in out
    assert main(["backtest", airline, "--target", "passengers", *FAST,
                 "--calibration-fraction", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err == ("tsrnn: error: --coverage 0.9 needs at least 9 calibration windows per "
                   "step; there are 7. Lower the coverage or raise --calibration-fraction.\n")


def test_forecast_notes_its_backtest_against_the_best_baseline(airline, capsys):
    assert main(["forecast", airline, "--target", "passengers", "--horizon", "12", *FAST]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = out[2:14]
    assert [r.split()[0] for r in rows] == [f"1961-{m:02d}-01" for m in range(1, 13)]
    # airline counts are whole numbers in the hundreds: one decimal in every column
    assert {len(v.split(".")[1]) for r in rows for v in r.split()[1:]} == {1}
    note = out[14]
    assert note.startswith("backtest on the last 20 %, MASE (lower is better): model ")
    assert "best baseline, seasonal naive (m=12)" in note and "over 2 origins" in note
    assert "(few origins: a rough estimate)" in note


def test_an_ensemble_and_the_model_options_reach_the_saved_model(airline, tmp_path):
    from tsrnn import RNNEnsembleForecaster, load

    path = tmp_path / "m.tsrnn"
    assert main(["forecast", airline, "--target", "passengers", "--horizon", "3", *FAST,
                 "--ensemble", "2", "--cell", "gru", "--num-layers", "2", "--log-scale", "true",
                 "--calibration-fraction", "0.3", "--coverage", "0", "--save", str(path)]) == 0
    model = load(path)
    assert isinstance(model, RNNEnsembleForecaster) and len(model.members_) == 2
    member = model.members_[0]
    assert (member.log_scale, member.calibration_fraction) == (True, 0.3)
    assert (member.estimator_.cell, member.estimator_.num_layers) == ("gru", 2)


@pytest.mark.parametrize("freq, season", [
    ("QS", 4), ("QE", 4), ("MS", 12), ("ME", 12), ("W-SUN", 52), ("D", 7), ("B", 5),
    ("h", 24), ("30min", 48), ("15min", 96), ("YS", 1), ("SMS", 24)])
def test_default_season_from_the_calendar(freq, season):
    assert default_season(pd.date_range("2001-01-01", periods=40, freq=freq)) == season


def test_default_season_without_a_calendar():
    assert default_season(pd.RangeIndex(1871, 1971)) == 1
    trading = pd.bdate_range("2024-01-01", periods=60).delete([10, 30])   # holidays
    assert default_season(trading) == 5
    irregular = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 00:07", "2024-01-02 05:00"])
    assert default_season(irregular) == 1


def test_quarterly_data_get_a_season_of_4(tmp_path, capsys):
    t = np.arange(60)
    pd.DataFrame({"quarter": pd.date_range("1990", periods=60, freq="QS").strftime("%Y-%m-%d"),
                  "gdp": 100 + t + 5 * np.tile([1, -1, 2, -2], 15)}).to_csv(
        tmp_path / "q.csv", index=False)
    assert main(["forecast", str(tmp_path / "q.csv"), "--target", "gdp", "--horizon", "4",
                 *FAST, "--coverage", "0"]) == 0
    assert "seasonal naive (m=4)" in capsys.readouterr().out


@pytest.mark.parametrize("values, places", [
    ([13020.0, 13100.0, 12998.0], 0),        # not 1.302e+04
    ([13020.0, 13100.0, 12998.5], 1),        # the data's own decimal
    ([0.8898, 0.91, 0.87], 4),
    ([10.59, 11.2, 9.87], 2),
    ([112, 118, 432], 1),                     # whole numbers in the hundreds
    ([301.25, 299.5, 310.75], 2),             # prices in cents keep their cents
    ([12.8, 13.9, 11.1], 2),
    ([0.00012, 0.00031], 7),
    ([0.0, 0.0], 0),
])
def test_decimals_follow_the_scale_and_resolution(values, places):
    assert decimals(values) == places


def test_a_column_never_mixes_precisions():
    history = pd.Series([0.5, 12.0, 9.0, 11.0], name="y")
    table = pd.DataFrame({"forecast": [0.8898, 10.59], "lower": [0.1, 9.0],
                          "upper": [1.7, 12.25]}, index=[4, 5])
    rows = forecast_table(table, history).splitlines()[1:]
    assert [r.split() for r in rows] == [["4", "0.89", "0.10", "1.70"],
                                         ["5", "10.59", "9.00", "12.25"]]
    assert decimals([1e16, 2e16]) is None and "e+16" in forecast_table(
        pd.DataFrame({"forecast": [1.5e16]}), pd.Series([1e16, 2e16]))


def _summary(model, naive, seasonal):
    return pd.DataFrame({"forecaster": [model], "naive": [naive], "seasonal_naive": [seasonal]},
                        index=["mase"])


def test_verdict_says_lower_is_better_and_when_the_model_lost():
    lost = verdict(_summary(2.24, 3.41, 1.41), 2, 12)
    assert lost == ("MASE (lower is better): model 2.240, seasonal naive (m=12) 1.410, naive "
                    "3.410; the model did NOT beat the best baseline, seasonal naive (m=12), "
                    "over 2 origins (few origins: a rough estimate)")
    won = verdict(_summary(0.5, 0.8, 1.0), 30, 7)
    assert won.endswith("the model beat the best baseline, naive, by 38 % over 30 origins")
    yearly = verdict(_summary(1.1, 1.0, 1.0), 6, 1)       # m=1: seasonal naive is naive
    assert "seasonal" not in yearly and "did NOT beat the best baseline, naive" in yearly
    assert verdict(_summary(np.nan, 1.0, 1.0), 6, 1) is None


def test_errors_name_the_options_to_change():
    assert in_options("`coverage`=0.9 needs 9; raise `calibration_fraction`.") == \
        "--coverage 0.9 needs 9; raise --calibration-fraction."
    assert in_options("`lags` + `horizon` = 30; `estimator` stays") == \
        "--lags + --horizon = 30; `estimator` stays"


def test_targets_given_twice_or_also_as_covariates_are_refused(airline, capsys):
    for extra, message in ((["--target", "passengers"], "--target 'passengers' is given "
                            "more than once"),
                           (["--covariates", "passengers"], "column 'passengers' is both a "
                            "--target and a covariate")):
        assert main(["forecast", airline, "--target", "passengers", *extra, *FAST]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err


def test_auto_calibration_holds_out_what_the_coverage_needs():
    from tsrnn._cli_model import calibration_fraction
    from tsrnn._cli_parser import build_parser

    args = build_parser({k: None for k in ("forecast", "backtest", "predict", "datasets")}) \
        .parse_args(["backtest", "--target", "y", "--horizon", "7"])
    y = pd.Series(np.arange(144.0), index=pd.date_range("1949", periods=144, freq="MS"))
    assert calibration_fraction(args, y, None) == 0.1                 # 109 origins: 11
    short = calibration_fraction(args, y, None, n_fit=100)             # 66 origins
    assert short > 0.1 and int(np.ceil(short * 66)) >= 9
    assert calibration_fraction(types.SimpleNamespace(**{**vars(args), "coverage": 0.5}),
                                y, None, n_fit=100) == 0.1
    assert calibration_fraction(types.SimpleNamespace(**{**vars(args),
                                "calibration_fraction": 0.25}), y, None) == 0.25
