import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data():
    """Path of ../shared/data; skips the test when the shared data is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """The ONNX export cache (STRUCTNET_CACHE) in a folder of this test session, never the user's ~/.cache; the
    bundled pose model is exported once per session."""
    old = os.environ.get("STRUCTNET_CACHE")
    os.environ["STRUCTNET_CACHE"] = str(tmp_path_factory.mktemp("structnet-cache"))
    yield
    if old is None:
        os.environ.pop("STRUCTNET_CACHE", None)
    else:
        os.environ["STRUCTNET_CACHE"] = old
