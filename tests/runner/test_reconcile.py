"""The repair pass at scale and under faults: batched releases, stale pairs, cycles found late."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from repository.models import Error, Status
from runner import director, jobs, reconcile
from runner.models import Job
from tests import factories
from tests.fixtures.pipeline import items

pytestmark = pytest.mark.django_db


def waiting_grid(size: int):
    """``size`` downstream tests waiting on one upstream whose results have landed on 2 models."""
    upstream = factories.make_test("Lattice_Ar", 1)
    models = [factories.make_model(f"M{i}_Ar", 100 + i) for i in range(2)]
    for n, model in enumerate(models):
        factories.make_result(upstream, model, 900 + n)
    for i in range(size):
        test = factories.make_test(f"Down{i}_Ar", 10 + i, depends_on=[upstream])
        for model in models:
            Job.objects.create(runner_kim_id=test.kim_id, subject_kim_id=model.kim_id,
                               state=Job.State.WAITING, blocked_on=[upstream.kim_id])
    return models


@pytest.mark.parametrize("size", [3, 30])
def test_releasing_waiting_jobs_takes_a_fixed_number_of_queries(size):
    waiting_grid(size)
    with CaptureQueriesContext(connection) as queries:
        queued, failed = director.release_waiting()
    assert (len(queued), failed) == (2 * size, [])
    assert Job.objects.filter(state=Job.State.QUEUED).count() == 2 * size
    # Items, current outcomes, live jobs, the row locks and one update: not one per job.
    assert len(queries) <= 12, [q["sql"][:80] for q in queries]


def test_stale_resubmission_reaches_every_submittable_pair_past_unsubmittable_ones():
    models = [factories.make_model(f"M{i}_Ar", 100 + i) for i in range(2)]
    pending = factories.make_test("Pending_Ar", 11, status=Status.PENDING)
    old = factories.make_test("Old_Ar", 12)
    factories.make_test("Old_Ar", 12, 1)  # a newer version: old's rows are not its to re-run
    a, b = cycle_by_hand()  # a broken dependency graph: found only by walking it, not in SQL
    ready = factories.make_test("Ready_Ar", 13)
    number = 0
    # The oldest stale pairs (what an oldest-first read takes), more of them than the limit,
    # and none submittable: a pending test, an old version of a test, and tests on a cycle.
    for test in (pending, old, a, b):
        for model in models:
            number += 1
            factories.make_result(test, model, number, minutes=-600 + number, stale=True)
    for model in models:
        number += 1
        factories.make_result(ready, model, number, minutes=60 + number, stale=True)

    reached = set()
    for _ in range(2):  # passes of reconcile
        report = reconcile.resubmit_stale(dispatch=False, limit=2)
        reached |= {(j.runner_kim_id, j.subject_kim_id) for j in report.jobs}
    assert reached == {(ready.kim_id, m.kim_id) for m in models}


def cycle_by_hand():
    """Two tests whose depends_on rows were edited into a cycle (the importer refuses one)."""
    a = factories.make_test("CycleA_Ar", 1)
    b = factories.make_test("CycleB_Ar", 2, depends_on=[a])
    a.depends_on.set([b])
    return a, b


def test_a_cycle_found_late_cannot_stop_reconcile_resubmitting_the_other_pairs():
    model = factories.make_model()
    a, b = cycle_by_hand()
    fine = factories.make_test("Fine_Ar", 3)
    factories.make_result(a, model, 1, stale=True)
    factories.make_result(fine, model, 2, stale=True)

    report = reconcile.reconcile(dispatch_released=False)

    assert report.stale_resubmitted == 1
    assert list(Job.objects.values_list("runner_kim_id", "subject_kim_id")) == [
        (fine.kim_id, model.kim_id)]


def test_a_job_on_a_cycle_found_late_fails_naming_the_tests():
    model = factories.make_model()
    a, b = cycle_by_hand()
    job = Job.objects.create(runner_kim_id=a.kim_id, subject_kim_id=model.kim_id)

    assert jobs.run_job(job.pk) == "failed"

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "dependency cycle" in job.last_error
    assert a.kim_id in job.last_error and b.kim_id in job.last_error


def test_a_dependency_error_runs_again_when_its_upstream_lands(repository_dir, tmp_path):
    log = tmp_path / "executions.log"
    model = factories.make_model(factories.AR_MODELS[0])
    upstream = factories.make_test("Lattice_Ar", 1, root=repository_dir, log=log)
    downstream = factories.make_test("Elastic_Ar", 2, root=repository_dir, depends_on=[upstream],
                                     log=log)
    # The downstream ran before its upstream had a result (e.g. read an undeclared upstream).
    factories.make_error(model, 1, test=downstream, category=Error.Category.DEPENDENCY,
                         message="needs the results of (Lattice_Ar …), which do not exist yet")
    job = Job.objects.create(runner_kim_id=upstream.kim_id, subject_kim_id=model.kim_id)

    assert jobs.run_job(job.pk, dispatch_released=False) == "done"

    rerun = Job.objects.for_pair(downstream.kim_id, model.kim_id).get()
    assert rerun.state == Job.State.QUEUED
    assert jobs.run_job(rerun.pk, dispatch_released=False) == "done"
    assert [r for r, _ in items.executions(log)] == [upstream.kim_id, downstream.kim_id]


def test_a_downstream_whose_wait_failed_runs_when_its_upstream_finally_lands(repository_dir):
    model = factories.make_model(factories.AR_MODELS[0])
    upstream = factories.make_test("Lattice_Ar", 1, root=repository_dir)
    downstream = factories.make_test("Elastic_Ar", 2, root=repository_dir, depends_on=[upstream])
    Job.objects.create(runner_kim_id=downstream.kim_id, subject_kim_id=model.kim_id,
                       state=Job.State.FAILED, last_error="upstream ended without a result")
    job = Job.objects.create(runner_kim_id=upstream.kim_id, subject_kim_id=model.kim_id,
                             reason="a curator's re-run")

    assert jobs.run_job(job.pk, dispatch_released=False) == "done"

    assert Job.objects.for_pair(downstream.kim_id, model.kim_id).active().get().state == "queued"


def test_a_cycle_downstream_of_a_landing_result_cannot_crash_its_completion(repository_dir):
    model = factories.make_model(factories.AR_MODELS[0])
    upstream = factories.make_test("Lattice_Ar", 9, root=repository_dir)
    a, b = cycle_by_hand()
    a.depends_on.add(upstream)
    factories.make_result(a, model, 1)  # made stale, and re-run, when the upstream lands
    job = Job.objects.create(runner_kim_id=upstream.kim_id, subject_kim_id=model.kim_id)

    assert jobs.run_job(job.pk, dispatch_released=False) == "done"

    job.refresh_from_db()
    assert job.state == Job.State.DONE
    assert not Job.objects.for_pair(a.kim_id, model.kim_id).exists(), "a cycle is never run"
