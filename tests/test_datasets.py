"""Bundled datasets: shapes, indexes, documented quirks, integrity, loadable from anywhere."""

import hashlib
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tsrnn import datasets

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHA256 = {
    "stocks_daily_ohlcv.csv": "0b5ec4002ef73e4505a63c3714caec90599c8f34e13ca90482df671165cb9c70",
    "co2_mauna_loa_weekly.csv": "2737f74222cf1fb702d41058927d2b8d2a34778d519bfa6b1dea2f1b47c234f4",
    "sea_temperature_neracoos_b01_30min.csv":
        "42ebc0fe3b33e4c2c519043881c7d3ebc9f3095bad4510b51ba2b72e6b350375",
    "seattle_weather_daily.csv": "5c822be5f9b70c9180dff922d1b43bcfaff89b48250215bef9a4d9465f356a89",
}


@pytest.mark.parametrize("name", sorted(SHA256))
def test_files_are_the_documented_ones(name):
    from tsrnn._resources import data_file

    digest = hashlib.sha256(data_file(name).read_bytes()).hexdigest()
    assert digest == SHA256[name]
    assert name in (ROOT / "datasets" / "README.md").read_text()


def test_stocks_wide_and_long():
    wide = datasets.load_stocks()
    assert list(wide.columns) == ["AAPL", "FB", "GOOG", "IBM", "MSFT"]
    assert isinstance(wide.index, pd.DatetimeIndex) and wide.index.is_monotonic_increasing
    assert wide.index[0] == pd.Timestamp("2000-03-01")
    assert wide.index[-1] == pd.Timestamp("2013-03-01")
    assert wide["AAPL"].notna().sum() == 3270 and wide["FB"].notna().sum() == 196
    assert wide["GOOG"].first_valid_index() == pd.Timestamp("2004-08-19")
    assert (wide.index.day_of_week < 5).all()  # trading days only
    long = datasets.load_stocks(long=True)
    assert len(long) == 12154 and "ticker" in long.columns
    close = datasets.load_stocks(field="close", tickers=["AAPL"])
    assert list(close.columns) == ["AAPL"]
    # the documented split: raw close halves, adjusted close does not
    jump = close["AAPL"].pct_change().loc["2005-02-28"]
    assert jump < -0.4
    with pytest.raises(ValueError, match="`field`"):
        datasets.load_stocks(field="price")
    with pytest.raises(ValueError, match="`tickers`"):
        datasets.load_stocks(tickers=["TSLA"])


def test_co2():
    df = datasets.load_co2()
    assert list(df.columns) == ["co2"] and df.index.freqstr == "W-SAT"
    assert len(df) == 2284 and int(df["co2"].isna().sum()) == 59


def test_sea_temperature():
    df = datasets.load_sea_temperature()
    assert list(df.columns) == ["temperature"] and len(df) == 19225
    assert df.index.is_unique and df.index.is_monotonic_increasing
    steps = df.index.to_series().diff().dropna().value_counts()
    assert steps.index[0] == pd.Timedelta("30min")
    assert pd.Timedelta("12h") in steps.index  # the documented 12-hour gap (23 slots)


def test_weather():
    df = datasets.load_weather()
    assert df.index.freqstr == "D" and len(df) == 1461
    assert not df.isna().any().any()
    assert set(df["weather"]) == {"sun", "fog", "rain", "drizzle", "snow"}
    assert np.issubdtype(df["temp_max"].dtype, np.floating)


def test_loads_from_any_directory(tmp_path):
    code = "from tsrnn.datasets import load_co2; print(len(load_co2()))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True, timeout=120).stdout
    assert out.strip() == "2284"


def test_datasets_module_does_not_import_numba():
    src = (ROOT / "tsrnn" / "datasets.py").read_text()
    assert "numba" not in src and "_engine" not in src
