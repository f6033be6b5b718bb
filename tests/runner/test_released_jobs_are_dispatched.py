"""A job that a failure or a cancel releases gets a delivery, like one a result releases.

The test settings run django-q2 inline (``sync``): a delivery runs its job at once, so a
released job that was delivered is done, and one left without a delivery sits queued.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker

from runner import director, execute, jobs, reconcile
from runner.models import Job
from tests import factories
from tests.fixtures.pipeline import items

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_log(tmp_path):
    return tmp_path / "executions.log"


@pytest.fixture
def releasable(repository_dir, run_log):
    """A downstream job still waiting on an upstream whose result landed without releasing it.

    Returns (model, downstream job): the next release pass on that model queues it.
    """
    model = items.make_model(items.AR_MODELS[0])
    lattice = items.make_test(repository_dir, "Lattice_Ar", 1, log=run_log)
    elastic = items.make_test(repository_dir, "Elastic_Ar", 2, depends_on=[lattice], log=run_log)
    director.on_item_changed(elastic, dispatch=False)
    # The upstream result arrives by another path (an import): no completion releases it.
    Job.objects.filter(runner_kim_id=lattice.kim_id).update(state=Job.State.CANCELLED)
    execute.run_pair(lattice, model)
    waiting = Job.objects.get(runner_kim_id=elastic.kim_id)
    assert waiting.state == Job.State.WAITING
    return model, waiting


def assert_delivered_and_ran(job: Job, run_log) -> None:
    job.refresh_from_db()
    assert job.state == Job.State.DONE, f"released but never delivered: {job.state}"
    assert (job.runner_kim_id, job.subject_kim_id) in items.executions(run_log)


def test_a_job_released_by_a_failed_job_is_delivered(releasable, run_log,
                                                     django_capture_on_commit_callbacks):
    model, waiting = releasable
    a = factories.make_test("CycleA_Ar", 7)
    b = factories.make_test("CycleB_Ar", 8, depends_on=[a])
    a.depends_on.set([b])  # edited into a cycle by hand: its job fails at once
    doomed = Job.objects.create(runner_kim_id=a.kim_id, subject_kim_id=model.kim_id)

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.run_job(doomed.pk) == "failed"

    assert_delivered_and_ran(waiting, run_log)


def test_a_job_released_by_a_job_out_of_attempts_is_delivered(releasable, run_log, repository_dir,
                                                               monkeypatch,
                                                               django_capture_on_commit_callbacks):
    model, waiting = releasable
    broken = items.make_test(repository_dir, "Broken_Ar", 9)
    doomed = Job.objects.create(runner_kim_id=broken.kim_id, subject_kim_id=model.kim_id,
                                max_attempts=1)
    real_run_pair = execute.run_pair

    def share_gone_for_broken(runner_item, model, **kwargs):
        # A fake to reach the edge case: the machinery fails, for this one runner only.
        if runner_item.kim_id == broken.kim_id:
            raise ConnectionError("repository share went away")
        return real_run_pair(runner_item, model, **kwargs)

    monkeypatch.setattr(execute, "run_pair", share_gone_for_broken)

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.run_job(doomed.pk) == "failed"

    assert_delivered_and_ran(waiting, run_log)


def test_a_job_released_by_a_cancel_is_delivered(releasable, run_log, repository_dir,
                                                 django_capture_on_commit_callbacks):
    model, waiting = releasable
    other = items.make_test(repository_dir, "Other_Ar", 9)
    unwanted = Job.objects.create(runner_kim_id=other.kim_id, subject_kim_id=model.kim_id)

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.cancel(Job.objects.filter(pk=unwanted.pk)) == 1

    assert_delivered_and_ran(waiting, run_log)


def test_a_job_released_by_an_expired_lease_out_of_attempts_is_delivered(
        releasable, run_log, repository_dir, django_capture_on_commit_callbacks):
    model, waiting = releasable
    other = items.make_test(repository_dir, "Other_Ar", 9)
    dead = Job.objects.create(runner_kim_id=other.kim_id, subject_kim_id=model.kim_id,
                              max_attempts=1)
    jobs.claim(dead.pk, "deadhost:4242:dead")
    # Other deliveries are pending, so reconcile's lost-delivery sweep does not apply.
    get_broker().enqueue("a delivery of some other job")

    later = timezone.now() + timedelta(seconds=jobs.lease_seconds() + 1)
    with django_capture_on_commit_callbacks(execute=True):
        report = reconcile.reconcile(now=later)

    assert report.failed == [dead.pk] and report.redispatched == []
    assert_delivered_and_ran(waiting, run_log)
