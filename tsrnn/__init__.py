"""tsrnn: recurrent neural networks for time-series forecasting, without PyTorch.

Estimators
----------
RNNRegressor, RNNClassifier
    scikit-learn estimators on windows of a time series (Elman RNN, LSTM, GRU).

Submodules
----------
datasets
    Loaders of the bundled real time series (stocks, Mauna Loa CO2, buoy sea temperature,
    Seattle weather).
nn
    :class:`~tsrnn.nn.Network`, the low-level recurrent network (forward, BPTT, PyTorch layout).
"""

from tsrnn import datasets, nn
from tsrnn._training import DivergenceWarning
from tsrnn.estimators import RNNClassifier, RNNRegressor
from tsrnn.forecasting import RNNForecaster
from tsrnn.nn import Network

__version__ = "0.1.0.dev0"

__all__ = [
    "DivergenceWarning",
    "Network",
    "RNNClassifier",
    "RNNForecaster",
    "RNNRegressor",
    "__version__",
    "datasets",
    "nn",
]
