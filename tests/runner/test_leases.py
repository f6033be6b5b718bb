"""Leases that live as long as the job, and task timeouts that are the job's own."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kimsite import config
from repository.models import TestResult
from runner import director, dispatch, jobs, reconcile
from runner.checks import check_queue_timeouts
from runner.models import Job
from tests import factories
from tests.fixtures.pipeline import items

pytestmark = pytest.mark.django_db


def queued_job(test, model) -> Job:
    return Job.objects.create(runner_kim_id=test.kim_id, subject_kim_id=model.kim_id)


def test_extend_lease_renews_the_holders_running_job_and_nobody_elses(settings):
    settings.PIPELINE_HEARTBEAT_SECONDS, settings.PIPELINE_LEASE_HEARTBEATS = 10, 3
    settings.PIPELINE_LEASE_GRACE = 5
    job = queued_job(factories.make_test(), factories.make_model())
    claimed = jobs.claim(job.pk, "alpha:1:a", now=timezone.now() - timedelta(seconds=30))
    assert jobs.lease_seconds() == 35

    assert not jobs.extend_lease(job.pk, "beta:2:b"), "not the holder"
    later = timezone.now()
    assert jobs.extend_lease(job.pk, "alpha:1:a", now=later)
    job.refresh_from_db()
    assert job.lease_expires_at == later + timedelta(seconds=35) > claimed.lease_expires_at

    Job.objects.filter(pk=job.pk).update(state=Job.State.DONE)
    assert not jobs.extend_lease(job.pk, "alpha:1:a"), "a finished job has no lease to renew"


def test_a_heartbeat_after_the_lease_was_lost_stops_the_run(settings):
    settings.PIPELINE_HEARTBEAT_SECONDS = 0.05
    job = queued_job(factories.make_test(), factories.make_model())
    jobs.claim(job.pk, "alpha:1:a")
    beat = jobs.heartbeat_for(job, "alpha:1:a")
    beat()  # held: renewed
    Job.objects.filter(pk=job.pk).update(lease_owner="beta:2:b")  # re-queued and taken
    time.sleep(0.06)
    with pytest.raises(jobs.LeaseLost, match="alpha:1:a"):
        beat()


def test_a_beat_within_a_heartbeat_of_the_last_renewal_asks_nothing(settings):
    """A lease lapses, it is not taken: one renewed less than a heartbeat ago still holds, so
    the beats around a short run cost no UPDATE (a beat one heartbeat later renews again)."""
    settings.PIPELINE_HEARTBEAT_SECONDS = 0.2
    job = queued_job(factories.make_test(), factories.make_model())
    started = time.monotonic()
    jobs.claim(job.pk, "alpha:1:a")
    claimed = Job.objects.get(pk=job.pk).lease_expires_at
    beat = jobs.heartbeat_for(job, "alpha:1:a", renewed_at=started)
    with CaptureQueriesContext(connection) as asked:
        beat()
    assert len(asked) == 0 and Job.objects.get(pk=job.pk).lease_expires_at == claimed
    time.sleep(0.21)
    beat()
    assert Job.objects.get(pk=job.pk).lease_expires_at > claimed


def test_the_lease_is_a_few_heartbeats_not_the_whole_task_timeout(settings):
    settings.JOB_TIMEOUT = 3600
    settings.PIPELINE_HEARTBEAT_SECONDS, settings.PIPELINE_LEASE_HEARTBEATS = 10, 3
    settings.PIPELINE_LEASE_GRACE = 45
    # A dead worker's job is queued again within 75 s, not after an hour and more.
    assert jobs.lease_seconds() == 75


def test_the_task_timeout_is_the_runners_own_plus_the_margin_bounded_by_job_timeout(settings):
    settings.JOB_TIMEOUT, settings.PIPELINE_JOB_TIMEOUT_MARGIN = 1000, 60
    short = factories.make_test("Short_Ar", 1, timeout=100)
    default = factories.make_test("Default_Ar", 2)
    long = factories.make_test("Long_Ar", 3, timeout=990)
    model = factories.make_model()
    made = [queued_job(t, model) for t in (short, default, long)]

    timeouts = dispatch._timeouts([(j.pk, j.runner_kim_id) for j in made])

    assert [timeouts[j.pk] for j in made] == [160, config.RUNNER_TIMEOUT + 60, 1000]


def test_a_worker_renewing_its_lease_is_never_queued_again_and_runs_once(repository_dir, settings,
                                                                       tmp_path):
    """The lease is shorter than the run; the heartbeats keep it, reconcile leaves it alone."""
    settings.PIPELINE_HEARTBEAT_SECONDS, settings.PIPELINE_LEASE_HEARTBEATS = 0.2, 1
    settings.PIPELINE_LEASE_GRACE = 0
    log = tmp_path / "executions.log"
    model = factories.make_model(factories.AR_MODELS[0])
    test = factories.make_test("Slow_Ar", 1, root=repository_dir, sleep=1.5, log=log)
    job = director.on_item_changed(test, dispatch=False).jobs[0]
    seen = []
    beat = jobs.heartbeat_for

    def watched(job_, owner, **kwargs):
        inner = beat(job_, owner, **kwargs)

        def renew_then_reconcile():
            inner()
            # What a reconcile pass on another machine would do meanwhile.
            seen.append(reconcile.reconcile(dispatch_released=False).requeued)
        return renew_then_reconcile

    jobs.heartbeat_for = watched
    try:
        assert jobs.run_job(job.pk) == "done"
    finally:
        jobs.heartbeat_for = beat
    job.refresh_from_db()
    assert len(seen) >= 3, "the run outlived several lease lengths"
    assert seen == [[]] * len(seen)
    assert (job.state, job.attempts) == ("done", 1)
    assert TestResult.objects.filter(test=test, model=model).count() == 1
    assert len(items.executions(log, "start")) == 1


def test_a_lease_too_short_for_a_render_and_a_heartbeat_is_a_configuration_error(settings):
    settings.Q_CLUSTER = {"timeout": 360, "retry": 480, "orm": "default"}
    settings.PIPELINE_HEARTBEAT_SECONDS, settings.PIPELINE_RENDER_TIMEOUT = 10, 30
    settings.PIPELINE_LEASE_HEARTBEATS, settings.PIPELINE_LEASE_GRACE = 1, 5
    (problem,) = check_queue_timeouts()
    assert problem.id == "runner.E003" and "15 s" in problem.msg and "30 s" in problem.msg

    settings.PIPELINE_LEASE_HEARTBEATS, settings.PIPELINE_LEASE_GRACE = 3, 45
    assert check_queue_timeouts() == []
