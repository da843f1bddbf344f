import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# the feature store and image cache of the test session (never the user's ~/.cache)
os.environ["MMSA_CACHE_DIR"] = tempfile.mkdtemp(prefix="mmsa_test_cache_")

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    """Slow tests are deselected (not skipped) unless --runslow is given: `.ci/run` runs them in a second step."""
    if config.getoption("--runslow"):
        return
    slow = [item for item in items if "slow" in item.keywords]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if "slow" not in item.keywords]


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    """A small synthetic dataset shared by the tests (240 posts, 32x32 images)."""
    from data_pipelines.datasets.synthetic import make_synthetic

    path = str(tmp_path_factory.mktemp("synthetic"))
    make_synthetic(path, posts=240, image_size=32, seed=3)
    return path


@pytest.fixture(scope="session")
def mvsa_sample_dir():
    path = os.path.join(SHARED_DATA, "mvsa_single_sample")
    if not os.path.isdir(path):
        pytest.fail(f"the shared MVSA sample is missing at {path}; tests expect ../shared beside the repo")
    return path


@pytest.fixture(autouse=True)
def _float32_policy():
    import keras

    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")
