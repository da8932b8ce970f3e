import os
import sys

import pytest

import lamina

# Parity tests compare with PyTorch when it is installed; they skip (with this reason) otherwise.
try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:  # pragma: no cover
    HAVE_TORCH = False

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def _seed():
    lamina.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    if lamina.cuda.is_available():
        return
    reason = "no CUDA device: " + (lamina.cuda.unavailable_reason() or "none visible")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))
