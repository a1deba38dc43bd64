"""Every docstring example of the public modules runs and prints what it shows."""

import doctest
import importlib
import warnings

import pytest

MODULES = ["tsrnn.datasets", "tsrnn.estimators", "tsrnn.forecasting", "tsrnn.metrics",
           "tsrnn.model_selection", "tsrnn.nn", "tsrnn.persistence", "tsrnn.plotting",
           "tsrnn.streaming",
           "tsrnn.windowing"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short example fits warn that they did not converge
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
