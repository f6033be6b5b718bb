"""runpair and test(model) are safe by default: shown not re-run, refused not recorded, forced on
request, and a re-run supersedes (real KIM API, real runs)."""

import pytest
from django.core.management.base import CommandError

from repository import storage
from repository.models import Error, TestResult
from runner.models import Job
from runner.pairs import PairRefused
from tests import factories
from tests.curator.conftest import run
from tests.fixtures.runner.cast import (
    BULK_2020,
    LATTICE_2020,
    import_fixture,
    installed_model,
    made_test,
)

pytestmark = [pytest.mark.django_db, pytest.mark.kimapi]

FE_TEST = "LatticeConstant_bcc_Fe__TE_000000000971_000"


@pytest.fixture
def al_model(repository_dir):
    return installed_model()


def current_of(test, model) -> list[str]:
    return [o.kim_id for table in (TestResult, Error) for o in
            table.objects.filter(runner_number=test.number, subject_number=model.number,
                                 runner_version=test.version).current()]


def test_a_computed_pair_is_shown_and_force_reruns_and_supersedes_it(al_model):
    lattice = import_fixture("te", LATTICE_2020)
    first, _ = run("runpair", LATTICE_2020, al_model.kim_id)
    result = TestResult.objects.get()

    again, _ = run("runpair", LATTICE_2020, al_model.kim_id)
    assert TestResult.objects.count() == 1, "a current pair is not run again"
    assert result.kim_id in again and "not run again" in again and "--force" in again

    forced, _ = run("runpair", LATTICE_2020, al_model.kim_id, "--force")
    newer = TestResult.objects.exclude(pk=result.pk).get()
    assert forced.startswith(f"{newer.kim_id}: ") and f"supersedes {result.kim_id}" in forced
    result.refresh_from_db()
    assert result.stale, "the superseded outcome is marked"
    assert current_of(lattice, al_model) == [newer.kim_id], "one current outcome per pair and versions"


def test_test_called_in_python_returns_the_current_outcome_without_running(al_model):
    lattice = import_fixture("te", LATTICE_2020)
    result = lattice(al_model)
    assert isinstance(result, TestResult)
    assert lattice(al_model) == result and TestResult.objects.count() == 1
    rerun = lattice(al_model, force=True)
    assert rerun != result and current_of(lattice, al_model) == [rerun.kim_id]


def test_a_mismatch_is_refused_with_the_rules_reason_and_writes_nothing(al_model):
    fe_test = made_test(FE_TEST, {"runner": "#!/bin/sh\nexit 0\n", "pipeline.stdin.tpl": ""},
                        species=("Fe",))
    with pytest.raises(CommandError) as refused:
        run("runpair", FE_TEST, al_model.kim_id)
    message = str(refused.value)
    assert "rule species" in message and "does not support Fe" in message and "--force" in message
    assert not Error.objects.exists() and not (storage.repository_root() / "er").exists()
    with pytest.raises(PairRefused):
        fe_test(al_model)
    assert not Error.objects.exists()

    with pytest.raises(CommandError):
        run("runpair", FE_TEST, al_model.kim_id, "--force")
    assert Error.objects.get().category == Error.Category.MISMATCH, "--force records it"


def test_dry_run_says_what_would_run_and_runs_nothing(al_model):
    import_fixture("te", LATTICE_2020)
    out, _ = run("runpair", LATTICE_2020, al_model.kim_id, "--dry-run")
    assert out.startswith(f"would run {LATTICE_2020} × {al_model.kim_id}")
    assert not TestResult.objects.exists() and not Error.objects.exists()


def test_downstream_jobs_are_said_after_the_result(al_model):
    import_fixture("te", LATTICE_2020)
    import_fixture("te", BULK_2020)
    with pytest.raises(CommandError):
        run("runpair", BULK_2020, al_model.kim_id)  # its upstream has not run: a dependency Error
    assert Error.objects.get().category == Error.Category.DEPENDENCY

    out, _ = run("runpair", LATTICE_2020, al_model.kim_id)
    lines = out.splitlines()
    kept = next(i for i, line in enumerate(lines) if line.startswith("  kept in "))
    queued = next(i for i, line in enumerate(lines) if line.startswith("queued downstream of TR_"))
    assert kept < queued, "the result first, then what it queued"
    job = Job.objects.get(runner_kim_id=BULK_2020)
    assert f"job {job.pk}: {BULK_2020} × {al_model.kim_id}" in out


def test_a_dependency_error_names_the_upstream_error(al_model):
    upstream = made_test("Upstream_fcc_Al__TE_000000000972_000",
                         {"runner": "#!/bin/sh\nexit 0\n", "pipeline.stdin.tpl": ""})
    made_test("Downstream_fcc_Al__TE_000000000973_000",
              {"runner": "#!/bin/sh\nexit 0\n", "pipeline.stdin.tpl": "",
               "dependencies.edn": '["TE_000000000972"]'})
    failed = factories.make_error(al_model, 974, test=upstream, message="runner exited with status 3")
    with pytest.raises(CommandError):
        run("runpair", "TE_000000000973", al_model.kim_id)
    error = Error.objects.exclude(pk=failed.pk).get()
    assert error.category == Error.Category.DEPENDENCY
    assert error.message.startswith(f"upstream failed: {failed.kim_id} (nonzero-exit: runner "
                                    "exited with status 3)")


def test_a_failing_runpair_says_its_error_once_and_v0_is_quiet(al_model, capfd):
    made_test("Fails_fcc_Al__TE_000000000975_000",
              {"runner": "#!/bin/sh\necho 'bad things' >&2\nexit 2\n", "pipeline.stdin.tpl": ""})
    with pytest.raises(CommandError) as caught:
        run("runpair", "TE_000000000975", al_model.kim_id)
    error = Error.objects.get()
    assert str(caught.value) == f"{error.kim_id}: nonzero-exit", "the reason is not repeated"
    console = capfd.readouterr()
    assert "exited with status 2" not in console.err, "no log line repeats it on the console"

    import_fixture("te", LATTICE_2020)
    out, err = run("runpair", LATTICE_2020, al_model.kim_id, verbosity=0)
    assert out == "" and err == "" and TestResult.objects.exists()


def test_result_files_share_one_permission_mode(al_model):
    import_fixture("te", LATTICE_2020)
    run("runpair", LATTICE_2020, al_model.kim_id)
    folder = TestResult.objects.get().path
    modes = {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir() if path.is_file()}
    assert {"results.edn", "kimspec.edn", "pipelinespec.edn", "pipeline.stderr"} <= set(modes)
    assert len(set(modes.values())) == 1, modes
