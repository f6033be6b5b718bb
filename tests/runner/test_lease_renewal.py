"""The lease is renewed around the run as well as during it, and a lost lease is not a failure."""

import logging

import pytest

from repository.models import Error, TestResult
from runner import director, execute, jobs
from runner.models import Job
from tests.fixtures.pipeline import items

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_log(tmp_path):
    return tmp_path / "executions.log"


def test_a_lost_lease_leaves_the_job_to_its_new_holder_and_is_no_attempt_failure(
        repository_dir, run_log, settings, monkeypatch, caplog):
    settings.PIPELINE_HEARTBEAT_SECONDS = 0.1
    items.make_model(items.AR_MODELS[0])
    test = items.make_test(repository_dir, "Slow_Ar", 1, sleep=1, log=run_log)
    job = director.on_item_changed(test, dispatch=False).jobs[0]
    real_heartbeat_for = jobs.heartbeat_for

    def taken_over(job_, owner, **kwargs):
        beat = real_heartbeat_for(job_, owner, **kwargs)

        def renew():
            # Meanwhile our lease lapsed, reconcile queued the job again and beta took it.
            Job.objects.filter(pk=job_.pk).update(lease_owner="beta:2:b")
            beat()
        return renew

    monkeypatch.setattr(jobs, "heartbeat_for", taken_over)

    with caplog.at_level(logging.INFO, logger="pipeline"):
        assert jobs.run_job(job.pk) == "lease-lost"

    job.refresh_from_db()
    assert (job.state, job.lease_owner, job.attempts, job.last_error) == (
        Job.State.RUNNING, "beta:2:b", 1, ""), "the new holder's job, untouched"
    assert not TestResult.objects.exists() and not Error.objects.exists()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    lost = [r for r in caplog.records if "lease" in r.getMessage() and "lost" in r.getMessage()]
    assert lost and all(r.levelno in (logging.INFO, logging.WARNING) for r in lost)


class LeaseGone(Exception):
    """What the fake heartbeat raises."""


def test_the_lease_is_renewed_before_a_runner_that_exits_at_once_starts(repository_dir, run_log):
    model = items.make_model(items.AR_MODELS[0])
    test = items.make_test(repository_dir, "Quick_Ar", 1, log=run_log)
    started_at_beat = []

    def heartbeat():
        started_at_beat.append(bool(items.executions(run_log, "start")))

    outcome = execute.run_pair(test, model, heartbeat=heartbeat)

    assert isinstance(outcome, TestResult)
    assert started_at_beat, "a run shorter than one heartbeat never renewed the lease"
    assert started_at_beat[0] is False, "the first renewal comes before the runner starts"


@pytest.mark.parametrize("fail", [False, True], ids=["result", "error"])
def test_a_heartbeat_that_fails_before_the_outcome_is_kept_keeps_nothing(repository_dir, run_log,
                                                                         fail):
    model = items.make_model(items.AR_MODELS[0])
    test = items.make_test(repository_dir, "Quick_Ar", 1, log=run_log, fail=fail)

    def heartbeat():
        # Fine before the start; the runner exits at once, so any later beat comes after its end.
        if items.executions(run_log, "start"):
            raise LeaseGone("the lease went while the outcome was read")

    with pytest.raises(LeaseGone):
        execute.run_pair(test, model, heartbeat=heartbeat)

    assert items.executions(run_log, "start"), "the runner ran"
    assert not TestResult.objects.exists() and not Error.objects.exists()
