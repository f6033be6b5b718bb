"""Fixtures shared by the whole suite."""

from pathlib import Path

import pytest

from kimsite import config

PROJECT_DIR = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = PROJECT_DIR / "examples" / "repository"


@pytest.fixture
def repository_dir(tmp_path, monkeypatch) -> Path:
    """An empty KIM_REPOSITORY_DIR of the test's own (config is read at call time)."""
    root = tmp_path / "repository"
    root.mkdir()
    monkeypatch.setattr(config, "KIM_REPOSITORY_DIR", root)
    return root


@pytest.fixture
def kim_api_dir(tmp_path, monkeypatch) -> Path:
    """A KIM_API_DIR of the test's own: the pipeline's KIM API collection starts empty."""
    root = tmp_path / "kim-api"
    monkeypatch.setattr(config, "KIM_API_DIR", root)
    return root


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES_DIR


@pytest.fixture(autouse=True, scope="session")
def no_kim_log_in_the_checkout():
    """The KIM API writes kim.log, a driver output/, into its working folder: never the project's."""
    strays = [PROJECT_DIR / "kim.log", PROJECT_DIR / "output"]  # a driver run in the checkout

    def stamps():
        return {path: path.stat().st_mtime_ns if path.exists() else None for path in strays}

    before = stamps()
    yield
    changed = [path.name for path, stamp in stamps().items() if stamp != before[path]]
    assert not changed, (f"the test session wrote {', '.join(changed)} into the checkout: a KIM "
                         "API call or a driver ran in it")


#: Tests that watch a run's processes from the worker (the pids a runner writes, which a PID
#: namespace would hide): they test the worker-side lifetime guarantees, the ones a machine
#: with PIPELINE_SANDBOX=off keeps. tests/sandbox/ tests the same guarantees sandboxed.
WORKER_SIDE_TESTS = ("test_process_lifetime.py", "test_process_lifetime_cluster.py",
                     "test_worker_start.py", "test_queue.py::test_sigkilled_",
                     "test_queue.py::test_a_cluster_timeout_ends_the_job_and_its_runner",
                     "test_a_hanging_test_is_killed_at_the_limit_with_its_children")


@pytest.fixture(autouse=True)
def sandbox_for_tests(request, monkeypatch, tmp_path_factory):
    """Runs are sandboxed; the suite's witness files (under pytest's base temp) stay writable."""
    from django.conf import settings

    base = str(tmp_path_factory.getbasetemp())
    if any(name in request.node.nodeid for name in WORKER_SIDE_TESTS):
        monkeypatch.setenv("PIPELINE_SANDBOX", "off")
        monkeypatch.setattr(settings, "PIPELINE_SANDBOX", "off", raising=False)
    elif "tests/sandbox/" not in request.node.nodeid:
        monkeypatch.setenv("PIPELINE_SANDBOX_WRITABLE", base)
        monkeypatch.setattr(settings, "PIPELINE_SANDBOX_WRITABLE", [base], raising=False)
