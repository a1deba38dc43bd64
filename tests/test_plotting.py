"""tsrnn.plotting renders to PNG with the Agg backend; matplotlib is not imported by `import tsrnn`."""

import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import forecaster

from tsrnn import RNNRegressor
from tsrnn.datasets import load_weather
from tsrnn.model_selection import backtest
from tsrnn.plotting import plot_backtest, plot_forecast, plot_loss_curve

matplotlib.use("Agg")
import matplotlib.pyplot as plt

FAST = {"hidden_size": 6, "max_iter": 8, "random_state": 0}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _png(ax, tmp_path):
    path = tmp_path / "plot.png"
    np.atleast_1d(ax)[0].figure.savefig(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    return path


def test_plot_forecast_with_band_actuals_and_dates(tmp_path):
    y = load_weather()["temp_max"]
    fc = forecaster(lags=10, horizon=5, early_stopping=True, **FAST).fit(y.iloc[:-5])
    axes = plot_forecast(y.iloc[:-5], fc.predict(), interval=fc.predict_interval(0.9),
                         actual=y.iloc[-5:], title="Seattle")
    ax = axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["history", "forecast", "90 % interval", "actual"]   # the level
    lo, hi = ax.get_xlim()
    dates = matplotlib.dates.num2date([lo, hi])
    assert dates[0].year == 2015 and dates[1].strftime("%Y-%m-%d") >= "2015-12-31"
    _png(axes, tmp_path)


def test_plot_forecast_multivariate_one_panel_per_target(tmp_path):
    w = load_weather()[["temp_max", "temp_min"]]
    fc = forecaster(lags=10, horizon=3, **FAST).fit(w)
    axes = plot_forecast(w, fc.predict(), interval=fc.predict_interval(0.8), last=30)
    assert len(axes) == 2 and [a.get_ylabel() for a in axes] == ["temp_max", "temp_min"]
    _png(axes, tmp_path)
    with pytest.raises(ValueError, match="columns"):
        plot_forecast(w[["temp_max"]], fc.predict())


def test_plot_backtest_and_loss_curve(tmp_path):
    y = pd.Series(np.sin(np.arange(300) / 5), index=pd.date_range("2020", periods=300, freq="D"))
    result = backtest(forecaster(lags=10, horizon=4, **FAST), y, initial=250, m=7,
                      coverage=0.8)
    ax = plot_backtest(result)
    assert ax.get_title().startswith("y: MASE ") and "vs seasonal naive" in ax.get_title()
    assert len(ax.get_lines()) == 1 + 2 * result.forecasts["origin"].nunique()
    _png(ax, tmp_path)
    with pytest.raises(ValueError, match="not one of the backtest's targets"):
        plot_backtest(result, target="nope")
    fc = forecaster(lags=10, horizon=2, **FAST).fit(y)
    ax = plot_loss_curve(fc)
    assert [line.get_label() for line in ax.get_lines()] == ["training loss", "validation loss"]
    _png(ax, tmp_path)
    with pytest.raises(ValueError, match="not fitted"):
        plot_loss_curve(RNNRegressor())


def test_draws_on_given_axes():
    _, ax = plt.subplots()
    y = pd.Series(np.arange(50.0))
    out = plot_forecast(y, pd.Series([50.0, 51.0], index=[50, 51], name=None), ax=ax)
    assert out[0] is ax


def test_import_tsrnn_does_not_import_matplotlib():
    code = "import sys, tsrnn, tsrnn.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------ polish
def _series(n=80, horizon=4):
    y = pd.Series(np.sin(np.arange(n) / 4.0), index=pd.date_range("2024", periods=n, freq="D"),
                  name="y")
    future = pd.date_range(y.index[-1] + pd.Timedelta("1D"), periods=horizon, freq="D")
    point = pd.Series(np.linspace(0.5, 0.8, horizon), index=future, name="y")
    band = pd.DataFrame({"lower": point - 0.2, "upper": point + 0.2})
    return y, point, band


def test_forecast_line_starts_at_the_last_observation_and_names_the_level():
    y, point, band = _series()
    ax = plot_forecast(y, point, interval=band, level=0.8)[0]
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "forecast")
    xs, ys = line.get_xdata(), line.get_ydata()
    assert len(xs) == len(point) + 1 and ys[0] == y.iloc[-1] and list(ys[1:]) == list(point)
    assert matplotlib.dates.date2num(xs[0]) == matplotlib.dates.date2num(y.index[-1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == \
        ["history", "forecast", "80 % interval"]
    band.attrs["coverage"] = 0.95                     # as predict_interval records it
    ax = plot_forecast(y, point, interval=band)[0]
    assert "95 % interval" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_backtest_score_in_the_titles_and_level_in_the_legend():
    y = pd.Series(np.sin(np.arange(200) / 5), index=pd.date_range("2020", periods=200, freq="D"))
    result = backtest(forecaster(lags=10, horizon=4, **FAST), y, initial=150, m=7,
                      coverage=0.8)
    s = result.summary.loc["mase"]
    best = min(("seasonal_naive", "naive"), key=lambda c: s[c])
    y_, point, band = _series()
    ax = plot_forecast(y_, point, interval=band, title="y", backtest=result)[0]
    assert ax.get_title() == (f"y; backtest MASE {s['forecaster']:.3f} "
                              f"({best.replace('_', ' ')} {s[best]:.3f})")
    ax = plot_backtest(result, level=0.8)
    assert "80 % interval" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_new_figures_are_sized_for_slides_given_axes_keep_theirs():
    from tsrnn.plotting import SLIDE_STYLE

    y, point, _ = _series()
    fig = plot_forecast(y, point)[0].figure
    assert tuple(fig.get_size_inches()) == (10.0, 5.0) and fig.dpi == SLIDE_STYLE["figure.dpi"]
    assert fig.axes[0].title.get_fontsize() == SLIDE_STYLE["axes.titlesize"]
    two = plot_forecast(pd.concat([y, y.rename("z")], axis=1),
                        pd.concat([point, point.rename("z")], axis=1))[0].figure
    assert two.get_size_inches()[1] > 5.0
    own, ax = plt.subplots(figsize=(4, 3), dpi=72)
    plot_forecast(y, point, ax=ax)
    assert tuple(own.get_size_inches()) == (4.0, 3.0) and own.dpi == 72
    assert ax.yaxis.label.get_fontsize() < SLIDE_STYLE["axes.labelsize"]   # matplotlib's 10 pt
