"""tsrnn: recurrent neural networks for time-series forecasting, without PyTorch.

Estimators
----------
RNNRegressor, RNNClassifier
    scikit-learn estimators on windows of a time series (Elman RNN, LSTM, GRU).
RNNForecaster
    pandas Series/DataFrame in, forecasts at the future timestamps out (with intervals).
save, load
    Model files without pickle (JSON + NumPy arrays), checked on load.

Submodules
----------
datasets
    Loaders of the bundled real time series (stocks, Mauna Loa CO2, buoy sea temperature,
    Seattle weather).
windowing
    ``make_windows``: a time-indexed DataFrame -> supervised windows indexed by forecast origin.
model_selection
    ``backtest``: rolling-origin evaluation against naive and seasonal-naive forecasts.
metrics
    MAE, RMSE, MASE, RMSSE, sMAPE, pinball loss, interval coverage, and scikit-learn scorers.
plotting
    ``plot_forecast``, ``plot_backtest``, ``plot_loss_curve`` (matplotlib, imported on use).
nn
    :class:`~tsrnn.nn.Network`, the low-level recurrent network (forward, BPTT, PyTorch layout).
"""

from tsrnn import datasets, metrics, model_selection, nn, windowing
from tsrnn._training import DivergenceWarning
from tsrnn._version import __version__
from tsrnn.estimators import RNNClassifier, RNNRegressor
from tsrnn.forecasting import RNNForecaster
from tsrnn.nn import Network
from tsrnn.persistence import load, save

__all__ = [
    "DivergenceWarning",
    "Network",
    "RNNClassifier",
    "RNNForecaster",
    "RNNRegressor",
    "__version__",
    "datasets",
    "load",
    "metrics",
    "model_selection",
    "nn",
    "save",
    "windowing",
]
