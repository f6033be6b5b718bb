"""The example repository through the whole pipeline: director, jobs, run_pair, real models.

Four real models (one per species) keep it to a few dozen jobs; ``bin/setup`` and
``bench/bench_example_repository.py`` compute the whole repository the same way.
"""

from io import StringIO

import pytest
from django.core.management import call_command

from repository.errors import PipelineError
from repository.importer import import_repository
from repository.installed import register_installed_items
from repository.models import Error, Model, Test, TestResult, VerificationResult
from runner import director, jobs, tasks
from runner.models import Job

pytestmark = [pytest.mark.kimapi, pytest.mark.slow, pytest.mark.django_db]

MODELS = (
    "EAM_Dynamo_ErcolessiAdams_1994_Al__MO_123629422045_005",
    "EAM_Dynamo_MendelevKing_2013_Cu__MO_748636486270_005",
    "SW_StillingerWeber_1985_Si__MO_405512056662_005",
    "LJ_Shifted_Bernardes_1958MedCutoff_Ar__MO_126566794224_004",
)


@pytest.fixture
def example_pipeline(repository_dir, examples_dir):
    register_installed_items()
    report = import_repository(examples_dir)
    assert not report.rejected, report.rejected
    # Deleting the other installed models keeps the fan-out small; nothing refers to them yet.
    Model.objects.exclude(kim_id__in=MODELS).delete()
    return report


def test_the_examples_compute_upstream_first_and_every_job_ends_in_an_outcome(example_pipeline):
    report = director.submit_all(dispatch=False)
    assert report.waiting > 0, "dependent tests must wait for their lattice constants"

    summary = jobs.run_pending(workers=1, progress=False)

    assert set(Job.objects.values_list("state", flat=True)) == {Job.State.DONE}, summary
    outcomes = {job.outcome_kim_id for job in Job.objects.all()}
    assert "" not in outcomes
    kept = {*TestResult.objects.values_list("kim_id", flat=True),
            *VerificationResult.objects.values_list("kim_id", flat=True),
            *Error.objects.values_list("kim_id", flat=True)}
    assert outcomes <= kept
    assert not Error.objects.exists(), [f"{e}: {e.category}: {e.message}" for e in Error.objects.all()]
    assert VerificationResult.objects.count() == len(MODELS)

    for bulk in TestResult.objects.filter(test__name__startswith="BulkModulusCubic"):
        crystal = bulk.test.name.split("_", 1)[1]  # e.g. fcc_Al
        lattice = TestResult.objects.get(test__name=f"LatticeConstantCubicEnergy_{crystal}",
                                         model=bulk.model)
        assert lattice.created_at < bulk.created_at, f"{bulk} ran before its lattice constant"
        assert bulk.provenance["upstream-results"] == [lattice.kim_id]


def test_changing_the_lattice_constant_test_reruns_its_downstream(example_pipeline, repository_dir):
    aluminium = Model.objects.get(kim_id=MODELS[0])
    lattice_test = Test.objects.get(name="LatticeConstantCubicEnergy_fcc_Al")
    for test in (lattice_test, *lattice_test.dependents.all()):
        director.submit_pairs([(test, aluminium)], dispatch=False)
    jobs.run_pending(workers=1, progress=False)
    first_lattice = TestResult.objects.get(test=lattice_test)
    downstream = list(TestResult.objects.exclude(test=lattice_test))
    # Its dependents, by the names their templates read it with (dependencies.edn, query()).
    assert sorted(result.test.name for result in downstream) == sorted(
        test.name for test in lattice_test.dependents.all()) == [
        "BulkModulusCubic_fcc_Al", "ElasticConstantsCubic_fcc_Al", "SurfaceEnergyIdealCubic_fcc_Al",
        "SurfaceEnergyIdealFCC_fcc_Al"]

    # A curator edits the test in the repository; the periodic scan finds it.
    template = repository_dir / "te" / lattice_test.kim_id / "pipeline.stdin.tpl"
    template.write_text(template.read_text() + "@# revised by a curator #@\n")
    assert "1 updated" in tasks.scan_repository()
    jobs.run_pending(workers=1, progress=False)

    new_lattice = TestResult.objects.filter(test=lattice_test).exclude(pk=first_lattice.pk).get()
    for old in downstream:
        old.refresh_from_db()
        assert old.stale, f"{old} was not marked stale"
        rerun = TestResult.objects.get(test=old.test, stale=False)
        assert rerun.provenance["upstream-results"] == [new_lattice.kim_id]
    assert not Job.objects.exclude(state=Job.State.DONE).exists()


def test_a_dependency_cycle_in_the_examples_is_refused(example_pipeline):
    lattice_test = Test.objects.get(name="LatticeConstantCubicEnergy_fcc_Al")
    bulk_test = Test.objects.get(name="BulkModulusCubic_fcc_Al")
    lattice_test.depends_on.add(bulk_test)

    with pytest.raises(PipelineError, match="cycle"):
        director.on_item_changed(bulk_test, dispatch=False)
    assert not Job.objects.exists()


def test_runpair_of_an_upstream_test_makes_its_downstream_stale_and_queues_it(example_pipeline):
    aluminium = Model.objects.get(kim_id=MODELS[0])
    lattice_test = Test.objects.get(name="LatticeConstantCubicEnergy_fcc_Al")
    bulk_test = Test.objects.get(name="BulkModulusCubic_fcc_Al")
    director.submit_pairs([(bulk_test, aluminium)], dispatch=False)
    jobs.run_pending(workers=1, progress=False)
    bulk = TestResult.objects.get(test=bulk_test)

    # The pair has a current result: runpair runs it again only when told (issue 14).
    call_command("runpair", lattice_test.kim_id, aluminium.kim_id, "--force", stdout=StringIO(),
                 stderr=StringIO())

    bulk.refresh_from_db()
    assert bulk.stale
    assert Job.objects.filter(runner_kim_id=bulk_test.kim_id, state=Job.State.QUEUED).count() == 1
