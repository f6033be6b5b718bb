"""A run that fails because the worker environment lacks a Python module is an `environment` Error."""

import pytest

from repository import storage
from repository.models import Error, TestDriver
from runner.environment import missing_module
from runner.execute import run_pair
from tests.fixtures.runner.cast import installed_model, made_test, write_files

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi]

DRIVER = "NeedsAModule__TD_000000007101_000"
SHELL_RUNNER = '#!/bin/sh\nIFS= read -r driver\nexec /bin/sh -c "$driver"\n'


@pytest.fixture
def al_model(repository_dir):
    return installed_model()


def driver_importing(body: str) -> TestDriver:
    """A 2020 driver whose runner is a Python program (found by its test with path())."""
    write_files(storage.item_path(DRIVER), {
        "kimspec.edn": f'{{"extended-id" "{DRIVER}" "executables" ["runner"]}}\n',
        "runner": "#!/usr/bin/env python3\n" + body,
    })
    return TestDriver.objects.create(kim_id=DRIVER, kim_api_version="2.3")


def runner_using_driver(number: int):
    return made_test(f"UsesDriver__TE_{number:012d}_000", {
        "pipeline.stdin.tpl": f'@< path("{DRIVER}") >@\n@< MODELNAME >@\n',
        "runner": SHELL_RUNNER,
    })


def test_a_missing_module_in_the_driver_is_an_environment_error(al_model):
    driver_importing("import sys\nimport kim_tools  # installed\nimport kim_tools_plugin_not_installed\n")
    error = run_pair(runner_using_driver(7102), al_model)
    assert isinstance(error, Error) and error.category == Error.Category.ENVIRONMENT, error
    assert "'kim_tools_plugin_not_installed'" in error.message
    assert "ModuleNotFoundError" in error.message and "requirements.txt" in error.message
    assert "kim_tools_plugin_not_installed" in error.stderr_tail  # the traceback is kept
    assert (error.path / "pipeline.exception").read_text().startswith("environment: ")


def test_a_name_the_installed_package_lacks_is_an_environment_error(al_model):
    driver_importing("from kim_tools import KIMTestDriverThatDoesNotExist\n")
    error = run_pair(runner_using_driver(7103), al_model)
    assert error.category == Error.Category.ENVIRONMENT, error.message
    assert "'kim_tools' has no 'KIMTestDriverThatDoesNotExist'" in error.message


def test_an_import_failure_caught_before_another_failure_is_not_the_environment(al_model):
    driver_importing(
        "import sys\n"
        "try:\n    import not_installed_optional_speedup\n"
        "except ImportError as exc:\n    print(f'ModuleNotFoundError: {exc}', file=sys.stderr)\n"
        "for n in range(8):\n    print(f'step {n}', file=sys.stderr)\n"
        "sys.exit('the model refused the configuration')\n")
    error = run_pair(runner_using_driver(7104), al_model)
    assert error.category == Error.Category.NONZERO_EXIT, error.message
    assert "the model refused the configuration" in error.message


@pytest.mark.parametrize("stderr, found", [
    ("Traceback (most recent call last):\n  File \"x\", line 1\nModuleNotFoundError: No module named 'numdifftools'\n",
     "'numdifftools'"),
    ("ImportError: No module named scipy.optimize\n", "'scipy.optimize'"),
    ("ImportError: cannot import name 'foo' from 'bar' (/x/bar.py)\n", "'bar' has no 'foo'"),
    ("ValueError: nothing to do with imports\n", None),
    ("", None),
])
def test_missing_module_reads_the_end_of_stderr(tmp_path, stderr, found):
    path = tmp_path / "pipeline.stderr"
    path.write_text(stderr)
    message = missing_module(path)
    assert (message is None) if found is None else (found in message)


def test_missing_module_of_no_stderr_is_none(tmp_path):
    assert missing_module(tmp_path / "absent") is None
