"""tsrnn: recurrent neural networks for time-series forecasting, without PyTorch.

Estimators
----------
RNNRegressor, RNNClassifier
    scikit-learn estimators on windows of a time series (Elman RNN, LSTM, GRU).
RNNForecaster
    pandas Series/DataFrame in, forecasts at the future timestamps out (with intervals);
    its network is an ``estimator`` (an RNNRegressor by default, any regressor works), and
    ``global_model=True`` trains one model across the series of a panel.
StreamingForecaster
    a stateful network over one continuous stream (sensor readings): trained by truncated
    BPTT, then ``update`` advances its state one recurrent step per new reading and
    ``predict`` forecasts from it, without re-reading a window.
RNNEnsembleForecaster
    several forecasters differing in seed, input window and loss, combined by their median.
save, load
    Model files without pickle (JSON + NumPy arrays), checked on load.
export_onnx
    A fitted network as an ONNX model (native RNN/LSTM/GRU operators, scaling as graph
    nodes), for ONNX Runtime and other ONNX runtimes (``pip install tsrnn[onnx]``).

Submodules
----------
datasets
    Loaders of the bundled real time series (stocks, Mauna Loa CO2, buoy sea temperature,
    Seattle weather).
windowing
    ``make_windows``: a time-indexed DataFrame -> supervised windows indexed by forecast origin.
model_selection
    ``backtest``: rolling-origin evaluation against naive and seasonal-naive forecasts
    (of one series, or of a panel for a global model); ``fit_many``/``predict_many``:
    one model per series through joblib or Dask.
metrics
    MAE, RMSE, MASE, RMSSE, sMAPE, pinball loss, interval coverage, and scikit-learn scorers.
plotting
    ``plot_forecast``, ``plot_backtest``, ``plot_loss_curve`` (matplotlib, imported on use).
nn
    :class:`~tsrnn.nn.Network`, the low-level recurrent network (forward, BPTT, PyTorch layout).
"""

import importlib

from tsrnn._version import __version__

# Names are imported on first use (PEP 562), so that ``import tsrnn`` (and the command line's
# ``--help``) does not pay for scikit-learn, pandas and Numba until they are needed.
_NAMES = {
    "DivergenceWarning": "tsrnn._engine.training",
    "LayoutWarning": "tsrnn._estimator_layout",
    "Network": "tsrnn.nn",
    "RNNClassifier": "tsrnn.estimators",
    "RNNEnsembleForecaster": "tsrnn._ensemble",
    "RNNForecaster": "tsrnn.forecasting",
    "RNNRegressor": "tsrnn.estimators",
    "StreamingForecaster": "tsrnn.streaming",
    "export_onnx": "tsrnn._onnx",
    "load": "tsrnn.persistence",
    "save": "tsrnn.persistence",
}
_SUBMODULES = {"datasets", "metrics", "model_selection", "nn", "panel", "plotting", "windowing"}

__all__ = [
    "DivergenceWarning",
    "LayoutWarning",
    "Network",
    "RNNClassifier",
    "RNNEnsembleForecaster",
    "RNNForecaster",
    "RNNRegressor",
    "StreamingForecaster",
    "__version__",
    "datasets",
    "export_onnx",
    "load",
    "metrics",
    "model_selection",
    "nn",
    "save",
    "windowing",
]


def __getattr__(name):
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"tsrnn.{name}")
    else:
        raise AttributeError(f"module 'tsrnn' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES) | _SUBMODULES)
