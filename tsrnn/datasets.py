"""Small real time series bundled with tsrnn (offline; provenance in ``datasets/README.md``).

Every loader returns a :class:`pandas.DataFrame` with a :class:`~pandas.DatetimeIndex`
named after the time column, sorted, with missing values as NaN and nothing
imputed: the quirks of each series are documented on its loader.

Examples
--------
>>> from tsrnn.datasets import load_weather
>>> df = load_weather()
>>> list(df.columns)
['precipitation', 'temp_max', 'temp_min', 'wind', 'weather']
"""

from __future__ import annotations

import pandas as pd

from tsrnn._resources import data_file

__all__ = ["load_co2", "load_sea_temperature", "load_stocks", "load_weather"]

TICKERS = ("AAPL", "FB", "GOOG", "IBM", "MSFT")
_STOCK_FIELDS = ("open", "high", "low", "close", "volume", "adj_close")


def _read(name: str, time_col: str) -> pd.DataFrame:
    df = pd.read_csv(data_file(name), parse_dates=[time_col])
    return df.set_index(time_col).sort_index()


def load_stocks(*, field: str = "adj_close", long: bool = False,
                tickers: list[str] | None = None) -> pd.DataFrame:
    """Daily prices of AAPL, FB, GOOG, IBM and MSFT, 2000-03-01 .. 2013-03-01 (Quandl WIKI).

    Parameters
    ----------
    field : {"adj_close", "open", "high", "low", "close", "volume"}, default="adj_close"
        The column to return, one column per ticker (wide form).
    long : bool, default=False
        Return the source's long OHLCV table instead (columns ``ticker``,
        ``open``, ``high``, ``low``, ``close``, ``volume``, ``adj_close``; one
        row per ticker and trading day).
    tickers : list of str, optional
        Keep only these tickers.

    Returns
    -------
    DataFrame
        Indexed by trading day (``date``); weekends and exchange holidays are
        absent, so the index has no fixed frequency.

    Notes
    -----
    - ``close`` is not adjusted: it jumps at the stock splits of AAPL
      (2000-06-21, 2005-02-28) and MSFT (2003-02-18). ``adj_close`` is split-
      and dividend-adjusted; model it or its log returns. AAPL's 52 % fall on
      2000-09-29 was a real market move, not a split.
    - GOOG starts 2004-08-19 and FB 2012-05-18 (196 days, too short for most
      uses): in the wide form their earlier rows are NaN.
    - Public domain (Quandl WIKI Prices).
    """
    df = _read("stocks_daily_ohlcv.csv", "date")
    if tickers is not None:
        unknown = sorted(set(tickers) - set(TICKERS))
        if unknown:
            raise ValueError(f"`tickers` has unknown symbols {unknown}; available: {list(TICKERS)}.")
        df = df[df["ticker"].isin(tickers)]
    if long:
        return df
    if field not in _STOCK_FIELDS:
        raise ValueError(f"`field`={field!r} must be one of {list(_STOCK_FIELDS)}.")
    wide = df.pivot(columns="ticker", values=field)
    wide.columns.name = None
    return wide


def load_co2() -> pd.DataFrame:
    """Weekly atmospheric CO2 at Mauna Loa, 1958-03-29 .. 2001-12-29 (Scripps / CDIAC).

    Returns
    -------
    DataFrame
        Column ``co2`` (ppm), weekly index ending on Saturdays (``freq="W-SAT"``).

    Notes
    -----
    59 weeks are missing (NaN): weeks without a steady six-hour data period.
    Impute them (e.g. ``interpolate()``) or mask them before training. Strong
    trend and an annual cycle. Public domain.
    """
    df = _read("co2_mauna_loa_weekly.csv", "date")
    return df.asfreq("W-SAT")


def load_sea_temperature() -> pd.DataFrame:
    """Water temperature every 30 minutes at buoy B01, Western Maine Shelf, 2016-02-15 .. 2017-03-22.

    Returns
    -------
    DataFrame
        Column ``temperature`` (degrees C), UTC timestamps (naive).

    Notes
    -----
    Two gaps are left unfilled: one half-hour slot before 2016-06-14 14:00 and
    12 hours (23 slots) before 2016-07-08 13:30, so the index has no fixed
    frequency; ``df.asfreq("30min").interpolate()`` gives a regular grid. A
    duplicated time stamp in the source (2017-03-21 16:30) was dropped, keeping
    the first reading. NERACOOS: free to use and redistribute, no warranty.
    """
    return _read("sea_temperature_neracoos_b01_30min.csv", "datetime")


def load_weather() -> pd.DataFrame:
    """Seattle daily weather, 2012-01-01 .. 2015-12-31 (NOAA, via vega-datasets).

    Returns
    -------
    DataFrame
        Columns ``precipitation`` (mm), ``temp_max``, ``temp_min`` (degrees C),
        ``wind`` (m/s) and ``weather`` (category), daily index (``freq="D"``).

    Notes
    -----
    No gaps and no missing values. The ``weather`` label was synthesised by
    vega-datasets from several NOAA fields for teaching; use it as a derived
    feature at most. Public domain.
    """
    df = _read("seattle_weather_daily.csv", "date")
    return df.asfreq("D")
