"""Handing job ids to the django-q2 broker, each with its own task timeout.

The timeout is kept on the Job row and travels in the delivery's arguments: a delivery may
run a better-ranked job than its own (runner.jobs.claim_best), but only one whose task timeout
fits in the one django-q2 enforces on this delivery.

Delivery only: the Job rows are the truth and the claim decides who runs. The director and
runner.jobs both send through here, so neither imports the other for it.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from kimsite import config
from repository.kimcodes import parse_kim_code
from repository.models import Test, VerificationCheck
from runner.models import Job

log = logging.getLogger("pipeline.jobs")


def task_timeout(runner_timeout: int | None) -> int:
    """The task timeout django-q2 enforces for one job: the runner's own plus a margin.

    The runner's kill timer fires first (an Error of category timeout); the cluster's
    timeout is the backstop for a worker stuck outside the runner. Bounded by JOB_TIMEOUT,
    what the cluster allows (the importer refuses longer test timeouts, naming both).
    """
    own = (runner_timeout or config.RUNNER_TIMEOUT) + settings.PIPELINE_JOB_TIMEOUT_MARGIN
    return min(own, settings.JOB_TIMEOUT)


def _timeouts(jobs: list[tuple[int, str]]) -> dict[int, int]:
    """job pk → its task timeout, with one query per runner table."""
    ids = {kim_id for _, kim_id in jobs}
    own: dict[str, int | None] = {}
    for table, leader in ((Test, "TE"), (VerificationCheck, "VC")):
        wanted = [i for i in ids if parse_kim_code(i).leader == leader]
        own.update(table.objects.filter(kim_id__in=wanted).values_list("kim_id", "timeout"))
    return {pk: task_timeout(own.get(kim_id)) for pk, kim_id in jobs}


def dispatch(job_ids) -> int:
    """Hand job ids to the broker, in the order given (delivery only; the claim decides)."""
    job_ids = list(job_ids)
    if not job_ids:
        return 0
    rows: list[tuple[int, str]] = []
    for start in range(0, len(job_ids), 500):
        chunk = job_ids[start:start + 500]
        Job.objects.filter(pk__in=chunk).update(enqueued_at=timezone.now())
        rows += Job.objects.filter(pk__in=chunk).values_list("pk", "runner_kim_id")
    timeouts = _timeouts(rows)
    by_timeout: dict[int, list[int]] = {}
    for pk, seconds in timeouts.items():
        by_timeout.setdefault(seconds, []).append(pk)
    for seconds, pks in by_timeout.items():
        for start in range(0, len(pks), 500):
            Job.objects.filter(pk__in=pks[start:start + 500]).update(task_timeout=seconds)
    # One transaction for the ORM broker's rows: one commit instead of one per delivery.
    # save=False: a delivery that succeeded is its Job row's state; a django-q2 Success row per
    # job would cost the cluster's one monitor a locked read of up to save_limit (1,000) rows
    # per task, to prune. Failed deliveries are still kept as Failure rows.
    with transaction.atomic():
        for pk in job_ids:
            seconds = timeouts.get(pk, settings.JOB_TIMEOUT)
            async_task("runner.tasks.run_job", pk, seconds, task_name=f"job-{pk}",
                       group="pipeline-jobs", timeout=seconds, save=False)
    log.info("dispatched %d jobs", len(job_ids))
    return len(job_ids)
