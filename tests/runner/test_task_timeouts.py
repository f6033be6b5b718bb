"""A delivery runs only a job its own task timeout can hold: django-q2 kills it at that timeout.

A delivery may run a better-ranked queued job than the one it was sent for (claim_best), so
each job's task timeout is on its row and each delivery carries its own.
"""

import pytest
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from runner import director, dispatch, jobs, tasks
from runner.models import Job
from tests import factories
from tests.fixtures.pipeline import items

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_log(tmp_path):
    return tmp_path / "executions.log"


def held_in_the_broker(monkeypatch, job_ids) -> list[dict]:
    """Dispatch through the real ORM broker, not inline: the deliveries wait in its queue."""
    with monkeypatch.context() as patch:
        patch.setattr(Conf, "SYNC", False)
        dispatch.dispatch(job_ids)
    return [SignedPackage.loads(row.payload) for row in OrmQ.objects.order_by("pk")]


def test_a_delivery_never_runs_a_job_that_needs_a_longer_task_timeout_than_its_own(
        repository_dir, run_log, settings, monkeypatch):
    settings.JOB_TIMEOUT, settings.PIPELINE_JOB_TIMEOUT_MARGIN = 1000, 60
    items.make_model(items.AR_MODELS[0])
    short = factories.make_test("Short_Ar", 1, root=repository_dir, log=run_log, timeout=100)
    long = factories.make_test("Long_Ar", 2, root=repository_dir, log=run_log, timeout=940)
    (short_job,) = director.on_item_changed(short, dispatch=False).jobs
    (long_job,) = director.on_item_changed(long, priority="immediate", dispatch=False).jobs
    # The urgent long job was sent first; its delivery is still in the broker.
    (long_delivery,) = held_in_the_broker(monkeypatch, [long_job.pk])

    dispatch.dispatch([short_job.pk])  # delivered at once (the test cluster runs inline)

    assert [runner for runner, _ in items.executions(run_log, "start")] == [short.kim_id], \
        "the 160 s delivery ran the job that needs 1000 s"
    assert Job.objects.get(pk=long_job.pk).state == Job.State.QUEUED
    # The long job's own delivery, with its own timeout, runs it.
    assert long_delivery["timeout"] == 1000
    assert tasks.run_job(*long_delivery["args"]) == "done"
    assert Job.objects.get(pk=long_job.pk).state == Job.State.DONE


def test_dispatch_keeps_each_jobs_task_timeout_on_its_row_and_in_its_delivery(settings, monkeypatch):
    settings.JOB_TIMEOUT, settings.PIPELINE_JOB_TIMEOUT_MARGIN = 1000, 60
    model = factories.make_model()
    made = [Job.objects.create(runner_kim_id=factories.make_test(f"T{n}_Ar", n, timeout=t).kim_id,
                               subject_kim_id=model.kim_id)
            for n, t in ((1, 100), (2, None), (3, 990))]
    assert [job.task_timeout for job in made] == [None] * 3, "unknown until dispatched"

    deliveries = held_in_the_broker(monkeypatch, [job.pk for job in made])

    wanted = [160, dispatch.task_timeout(None), 1000]
    assert [Job.objects.get(pk=job.pk).task_timeout for job in made] == wanted
    assert [(d["args"], d["timeout"]) for d in deliveries] == [
        ((job.pk, timeout), timeout) for job, timeout in zip(made, wanted, strict=True)]


def test_a_delivery_always_qualifies_for_its_own_job_and_only_its_own_for_one_never_dispatched():
    model = factories.make_model()
    urgent, own = (Job.objects.create(runner_kim_id=factories.make_test(f"T{n}_Ar", n).kim_id,
                                      subject_kim_id=model.kim_id, priority=priority)
                   for n, priority in ((1, Job.Priority.IMMEDIATE), (2, Job.Priority.LOW)))
    Job.objects.filter(pk=own.pk).update(task_timeout=900)  # its runner's timeout grew since

    # ``urgent`` was never dispatched (no task timeout known): only its own delivery takes it.
    assert jobs.claim_best("w:1:a", job_id=own.pk, task_timeout=100).pk == own.pk
    assert jobs.claim_best("w:2:b", job_id=urgent.pk, task_timeout=100).pk == urgent.pk
