"""runner.build: runners built from source once per version, and failed builds as Errors."""

import shutil

import pytest

from kimsite import config
from repository.errors import PipelineBuildError
from repository.models import Error, TestResult
from runner import build, install, owners
from runner.execute import run_pair
from runner.models import Build
from tests.fixtures.runner.cast import (
    DIMER_CPP,
    FIXTURES,
    LJ_MODEL,
    installed_model,
    made_test,
)

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi]


@pytest.fixture
def lj_model(repository_dir):
    return installed_model(LJ_MODEL, species=("Ar", "Al"))


@pytest.mark.slow
def test_a_cpp_runner_is_built_when_imported_and_computes_with_a_real_model(lj_model, tmp_path):
    from repository.importer import import_item

    shutil.copytree(FIXTURES / "source" / DIMER_CPP, tmp_path / "te" / DIMER_CPP)
    test = import_item(tmp_path / "te" / DIMER_CPP, source_root=tmp_path)
    # Built by the items_imported receiver, before any run.
    record = Build.objects.get(kim_id=DIMER_CPP)
    assert record.status == Build.Status.SUCCEEDED and "Built target runner" in record.log
    assert record.owner == owners.owner()
    finished = record.finished_at
    assert build.needs_build(test)
    result = run_pair(test, lj_model)
    assert isinstance(result, TestResult), getattr(result, "message", result)
    energy, unit = result["unrelaxed-potential-energy"]
    assert unit == "eV" and -0.01 < energy < 0  # an attractive LJ dimer at 3.8 angstrom
    positions, _ = result["unrelaxed-configuration-positions"]
    assert positions[1][2] == pytest.approx(3.8)  # convert(0.38, "nm", "angstrom") in the template
    assert record.artifact == result.provenance["executable"]
    assert record.artifact.startswith(str(build.build_area()))
    assert not record.artifact.startswith(str(config.KIM_REPOSITORY_DIR))
    assert Build.objects.get(kim_id=DIMER_CPP).finished_at == finished  # the run built nothing

    run_pair(test, lj_model, rebuild=True)  # runpair --rebuild: asked for, on the command line
    assert Build.objects.get(kim_id=DIMER_CPP).finished_at > finished


def test_a_makefile_runner_is_built(lj_model):
    test = made_test("Made__TE_000000000801_000", {
        "Makefile": "runner: runner.sh\n\tcp runner.sh runner\n\tchmod +x runner\n",
        "runner.sh": "#!/bin/sh\nexit 4\n",
        "pipeline.stdin.tpl": "",
    })
    assert build.build_items([test]) == {"built": [test.kim_id], "failed": []}
    error = run_pair(test, lj_model)
    assert isinstance(error, Error) and error.category == "nonzero-exit"
    assert "status 4" in error.message
    assert Build.objects.get(kim_id=test.kim_id).status == Build.Status.SUCCEEDED


def test_a_runner_never_built_is_a_build_error_that_says_to_run_installitems(lj_model):
    test = made_test("NeverBuilt__TE_000000000804_000", {
        "Makefile": "runner:\n\tprintf '#!/bin/sh\\nexit 0\\n' > runner; chmod +x runner\n",
        "pipeline.stdin.tpl": ""})
    error = run_pair(test, lj_model)
    assert error.category == "build" and error.built_item == test.kim_id
    assert f"manage.py installitems {test.kim_id}" in error.message
    assert not Build.objects.filter(kim_id=test.kim_id).exists()  # the job did not build it


def test_a_failed_build_ends_a_run_at_once_as_a_build_error_naming_its_log(lj_model):
    test = made_test("Broken__TE_000000000802_000", {
        "CMakeLists.txt": "cmake_minimum_required(VERSION 3.10)\nproject(Broken LANGUAGES CXX)\n"
                          "add_executable(runner runner.cpp)\n",
        "runner.cpp": "int main() { return this_does_not_compile; }\n",
        "pipeline.stdin.tpl": "",
    })
    assert build.build_items([test]) == {"built": [], "failed": [test.kim_id]}
    record = Build.objects.get(kim_id=test.kim_id)
    assert record.status == Build.Status.FAILED
    finished = record.finished_at

    error = run_pair(test, lj_model)
    assert isinstance(error, Error) and error.category == "build", error
    log_path = build.build_area() / test.kim_id / "build.log"
    assert str(log_path) in error.message and "this_does_not_compile" in log_path.read_text()
    assert "this_does_not_compile" in error.stderr_tail
    assert "this_does_not_compile" in (error.path / "build.log").read_text()
    assert Build.objects.get(kim_id=test.kim_id).finished_at == finished  # not built again

    # Fixing the source changes its hash: the next scan (install_sources) builds again.
    (test.path / "runner.cpp").write_text("int main() { return 0; }\n")
    assert test.kim_id in install.install_sources()["installed"]
    assert run_pair(test, lj_model).category == "no-results"


def test_a_build_that_makes_no_runner_fails(lj_model):
    test = made_test("Nothing__TE_000000000803_000", {
        "Makefile": "all:\n\t@echo nothing to build\n", "pipeline.stdin.tpl": ""})
    with pytest.raises(PipelineBuildError):
        build.ensure_built(test)
    assert run_pair(test, lj_model).category == "build"
    assert "no executable named runner" in Build.objects.get(kim_id=test.kim_id).log


def test_a_build_step_is_stopped_at_build_timeout(lj_model, settings):
    settings.BUILD_TIMEOUT = 1
    test = made_test("Slow__TE_000000000805_000", {
        "Makefile": "runner:\n\tsleep 30\n", "pipeline.stdin.tpl": ""})
    with pytest.raises(PipelineBuildError):
        build.ensure_built(test)
    assert "[killed after 1 s]" in Build.objects.get(kim_id=test.kim_id).log


def made_driver(kim_id: str, files: dict):
    from repository import storage
    from repository.models import TestDriver
    from tests.fixtures.runner.cast import write_files

    write_files(storage.item_path(kim_id), files)
    return TestDriver.objects.create(kim_id=kim_id, kim_api_version="2.2")


def test_a_driver_built_from_source_is_built_before_its_test_and_found_with_path(lj_model):
    driver = made_driver("Doubler__TD_000000000811_000", {
        "Makefile": "runner: runner.c\n\tcc -o runner runner.c\n",
        "runner.c": "#include <stdio.h>\nint main(void) { double x; if (scanf(\"%lf\", &x) != 1) return 1;\n"
                    "  printf(\"%.3f\\n\", 2 * x); return 0; }\n",
    })
    test = made_test("UsesDriver__TE_000000000812_000", {
        "pipeline.stdin.tpl": '@< path("TD_000000000811") >@\n',
        "runner": "#!/bin/sh\nread driver\necho 2.5 | \"$driver\" \necho \"driver at $driver\"\nexit 5\n",
    })
    test.driver = driver
    test.save()
    assert build.build_items([test, driver])["built"] == [driver.kim_id]  # drivers first
    error = run_pair(test, lj_model)
    assert error.category == "nonzero-exit", error.message
    assert "5.000" in error.stdout_tail  # the built C driver ran
    # path() gave the built executable, in the build area.
    assert f"driver at {build.build_area() / driver.kim_id / 'src' / 'runner'}" in error.stdout_tail
    assert Build.objects.get(kim_id=driver.kim_id).status == Build.Status.SUCCEEDED


def test_a_driver_whose_build_fails_is_an_error_naming_the_driver(lj_model):
    driver = made_driver("Broken__TD_000000000813_000", {"Makefile": "runner:\n\tfalse\n"})
    test = made_test("NeedsBroken__TE_000000000814_000", {
        "pipeline.stdin.tpl": "", "runner": "#!/bin/sh\nexit 0\n"})
    test.driver = driver
    test.save()
    assert build.build_items([driver])["failed"] == [driver.kim_id]
    error = run_pair(test, lj_model)
    assert error.category == "build" and error.built_item == driver.kim_id
    assert error.test == test
