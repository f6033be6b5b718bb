"""A runner that reads an upstream test on a FIXED model waits for that pair, and re-runs when
it lands: the director's upstream pairs are exactly runner.template.required_upstream's."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from repository import importer
from repository.models import Error, Model, SourceFormat, Test, TestResult
from runner import director, jobs
from runner.models import Job
from runner.template import required_upstream
from tests import factories
from tests.fixtures.pipeline import items

pytestmark = pytest.mark.django_db

STRUCTURE = '["structure-cubic-crystal-npt"], ["a"]'


def fixed_model_pair(repository_dir, log):
    """An upstream test and a downstream whose template reads it on a fixed model, imported."""
    fixed = factories.make_model(factories.AR_MODELS[0])
    other = factories.make_model(factories.AR_MODELS[1])
    up = factories.kim_id("Lattice_Ar", "TE", 1)
    down = factories.kim_id("Elastic_Ar", "TE", 2)
    factories.write_runner_folder(repository_dir / "te" / up, up, log=log)
    folder = factories.write_runner_folder(repository_dir / "te" / down, down, log=log)
    (folder / "pipeline.stdin.tpl").write_text(
        "@< MODELNAME >@\n"
        f'@< get_test_result(["{up}"], ["{fixed.kim_id}"], {STRUCTURE}) >@\n')
    importer.import_repository()
    return Test.objects.get(kim_id=up), Test.objects.get(kim_id=down), fixed, other


def run(runner, model) -> str:
    job = Job.objects.active().for_pair(runner.kim_id, model.kim_id).get()
    return jobs.run_job(job.pk, dispatch_released=False)


def test_a_run_on_another_model_waits_for_the_fixed_pair_and_ends_in_a_result(
        repository_dir, tmp_path):
    log = tmp_path / "executions.log"
    up, down, fixed, other = fixed_model_pair(repository_dir, log)

    director.submit_pairs([(down, other)], dispatch=False)

    waiting = Job.objects.for_pair(down.kim_id, other.kim_id).get()
    assert waiting.state == Job.State.WAITING
    # What the director waits for is what the runner will require.
    assert {(w["runner"], w["subject"]) for w in director.waiting_on(waiting)} == {
        (t.kim_id, m.kim_id) for t, m in required_upstream(down, other)} == {
        (up.kim_id, fixed.kim_id), (up.kim_id, other.kim_id)}
    assert Job.objects.for_pair(up.kim_id, fixed.kim_id).get().state == Job.State.QUEUED

    assert run(up, other) == "done"
    waiting.refresh_from_db()
    assert (waiting.state, waiting.blocked_on) == (Job.State.WAITING,
                                                   [[up.kim_id, fixed.kim_id]])
    # The fixed pair lands: its subject is not the waiting job's, and the job is released.
    assert run(up, fixed) == "done"
    waiting.refresh_from_db()
    assert waiting.state == Job.State.QUEUED
    assert run(down, other) == "done"

    assert [(r, m) for r, m in items.executions(log)][-1][0] == down.kim_id
    assert not Error.objects.exists()
    assert TestResult.objects.filter(test=down, model=other, stale=False).count() == 1


def test_a_dependency_error_on_another_model_runs_again_when_the_fixed_pair_lands(
        repository_dir, tmp_path):
    log = tmp_path / "executions.log"
    up, down, fixed, other = fixed_model_pair(repository_dir, log)
    Job.objects.create(runner_kim_id=up.kim_id, subject_kim_id=other.kim_id)
    assert run(up, other) == "done"
    # The downstream ran on `other` before (up, fixed) had a result.
    error = factories.make_error(other, 1, test=down, category=Error.Category.DEPENDENCY,
                                 message=f"needs the results of ({up.kim_id}, {fixed.kim_id})")
    Job.objects.create(runner_kim_id=up.kim_id, subject_kim_id=fixed.kim_id)

    assert run(up, fixed) == "done"

    error.refresh_from_db()
    assert error.stale
    rerun = Job.objects.for_pair(down.kim_id, other.kim_id).get()
    assert rerun.state == Job.State.QUEUED
    assert run(down, other) == "done"
    assert TestResult.objects.filter(test=down, model=other, stale=False).count() == 1


def test_a_wait_that_failed_on_another_model_runs_again_when_the_fixed_pair_lands(
        repository_dir, tmp_path):
    up, down, fixed, other = fixed_model_pair(repository_dir, tmp_path / "executions.log")
    factories.make_result(up, other, 900)
    Job.objects.create(runner_kim_id=down.kim_id, subject_kim_id=other.kim_id,
                       state=Job.State.FAILED, last_error="upstream ended without a result")
    Job.objects.create(runner_kim_id=up.kim_id, subject_kim_id=fixed.kim_id)

    assert run(up, fixed) == "done"

    assert Job.objects.for_pair(down.kim_id, other.kim_id).active().get().state == "queued"


def test_a_2012_directive_naming_a_fixed_model_is_waited_for(repository_dir):
    fixed = factories.make_model(factories.AR_MODELS[0])
    other = factories.make_model(factories.AR_MODELS[1])
    up = factories.make_test("Lattice_Ar", 1)
    down = factories.make_test("Elastic_Ar", 2, depends_on=[up],
                               source_format=SourceFormat.KIM2012)
    folder = repository_dir / "te" / down.kim_id
    folder.mkdir(parents=True)
    (folder / "pipeline.in").write_text(
        f"@MODELNAME\n@DATA[{up.kim_id}][{fixed.kim_id}][PR_000000000301_000]\n")

    director.submit_pairs([(down, other)], dispatch=False)

    waiting = Job.objects.for_pair(down.kim_id, other.kim_id).get()
    assert waiting.state == Job.State.WAITING
    assert sorted(map(str, waiting.blocked_on)) == sorted(
        [str([up.kim_id, fixed.kim_id]), up.kim_id])
    assert {(j.runner_kim_id, j.subject_kim_id, j.state) for j in Job.objects.exclude(
        pk=waiting.pk)} == {(up.kim_id, fixed.kim_id, "queued"), (up.kim_id, other.kim_id, "queued")}
    # Once both land, the waiting job is released by the fixed pair's subject.
    factories.make_result(up, other, 901)
    factories.make_result(up, fixed, 902)
    queued, failed = director.release_waiting(fixed.kim_id)
    assert (queued, failed) == ([waiting.pk], [])


def decision_queries(repository_dir, count: int) -> int:
    fixed = factories.make_model(factories.AR_MODELS[0])
    models = [factories.make_model(f"M{i}_Ar", 100 + i) for i in range(count)]
    up = factories.make_test("Lattice_Ar", 1)
    down = factories.make_test("Elastic_Ar", 2, root=repository_dir, depends_on=[up])
    (repository_dir / "te" / down.kim_id / "pipeline.stdin.tpl").write_text(
        f'@< get_test_result(["{up.kim_id}"], ["{fixed.kim_id}"], {STRUCTURE}) >@\n')
    with CaptureQueriesContext(connection) as queries:
        report = director.submit_pairs([(down, m) for m in models], dispatch=False)
    # The downstream pairs, the upstream pair on each model and the one on the fixed model.
    assert (report.waiting, report.queued) == (count, count + 1)
    return len(queries)


def test_deciding_pairs_that_read_a_fixed_model_takes_queries_per_runner_not_per_model(
        repository_dir):
    few = decision_queries(repository_dir, 2)
    Job.objects.all().delete()
    Test.objects.all().delete()
    Model.objects.all().delete()
    assert decision_queries(repository_dir, 12) == few


def test_a_fixed_pair_that_ends_without_a_result_fails_its_waiters_and_theirs():
    fixed = factories.make_model(factories.AR_MODELS[0])
    other = factories.make_model(factories.AR_MODELS[1])
    up = factories.make_test("Lattice_Ar", 1)
    down = factories.make_test("Elastic_Ar", 2, depends_on=[up])
    top = factories.make_test("Top_Ar", 3, depends_on=[down])
    Job.objects.create(runner_kim_id=up.kim_id, subject_kim_id=fixed.kim_id,
                       state=Job.State.FAILED, last_error="exit 3")
    waiter = Job.objects.create(runner_kim_id=down.kim_id, subject_kim_id=other.kim_id,
                                state=Job.State.WAITING, blocked_on=[[up.kim_id, fixed.kim_id]])
    above = Job.objects.create(runner_kim_id=top.kim_id, subject_kim_id=other.kim_id,
                               state=Job.State.WAITING, blocked_on=[down.kim_id])

    # Released by the fixed pair's subject, as a job ending on it does.
    queued, failed = director.release_waiting(fixed.kim_id)

    assert (queued, sorted(failed)) == ([], sorted([waiter.pk, above.pk]))
    waiter.refresh_from_db()
    assert f"upstream {up.kim_id} × {fixed.kim_id} ended without a result" in waiter.last_error
