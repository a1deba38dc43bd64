"""tsrnn: recurrent neural networks for time-series forecasting, without PyTorch.

Submodules
----------
nn
    :class:`~tsrnn.nn.Network`, the low-level recurrent network (forward, BPTT, PyTorch layout).
"""

from tsrnn import nn
from tsrnn.nn import Network

__version__ = "0.1.0.dev0"

__all__ = ["Network", "nn", "__version__"]
