"""The periodic repair pass: expired leases, lost deliveries, missed releases, stale results.

A lease lapses only when its worker stopped renewing it (runner.jobs: a heartbeat every
PIPELINE_HEARTBEAT_SECONDS while the runner runs), so an expired lease means a dead worker:
its job is queued again (or adopts the outcome it left, or fails after max_attempts).
A job the cluster's timeout killed is such a job: the kernel kills its runner with the
worker, the lease lapses, and it is queued again until its attempts are spent.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django_q.brokers import get_broker

from repository.errors import PipelineDependencyError, PipelineError
from repository.models import Error, Model, Status, Test, TestResult
from runner import director, jobs
from runner.director import SubmitReport
from runner.models import Job

log = logging.getLogger("pipeline.jobs")


@dataclass
class ReconcileReport:
    adopted: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    redispatched: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    stale_resubmitted: int = 0
    skipped: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"expired leases: {len(self.adopted)} adopted a landed outcome, "
                f"{len(self.requeued)} queued again, {len(self.failed)} failed; "
                f"{len(self.redispatched)} lost deliveries re-sent; {len(self.released)} waiting "
                f"jobs released; {self.stale_resubmitted} stale pairs re-submitted")


def _broker_is_empty() -> bool:
    try:
        return get_broker().queue_size() == 0
    except Exception:  # noqa: BLE001 — a broker we cannot ask is treated as holding nothing
        log.exception("cannot ask the broker for its queue size")
        return True


def _expired(job: Job, now, report: "ReconcileReport", dispatch_released: bool) -> None:
    outcome = jobs.landed_outcome(job)
    with transaction.atomic():
        mine = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING,
                                  lease_owner=job.lease_owner, lease_expires_at__lt=now)
        if outcome is not None:
            if mine.update(state=Job.State.DONE, outcome_kim_id=outcome.kim_id,
                           finished_at=now, updated_at=now, lease_expires_at=None):
                jobs.after_outcome(job, outcome, dispatch_released=dispatch_released)
                report.adopted.append(job.pk)
        elif job.attempts >= job.max_attempts:
            if mine.update(state=Job.State.FAILED, finished_at=now, updated_at=now,
                           last_error=f"lease of {job.lease_owner} expired after attempt "
                                      f"{job.attempts}/{job.max_attempts}: worker died?"):
                report.released += jobs.release_and_dispatch(
                    job.subject_kim_id, dispatch_released=dispatch_released)
                report.failed.append(job.pk)
        elif mine.update(state=Job.State.QUEUED, lease_owner="", lease_expires_at=None,
                         updated_at=now,
                         last_error=f"lease of {job.lease_owner} expired at "
                                    f"{job.lease_expires_at:%Y-%m-%d %H:%M:%S}; queued again"):
            report.requeued.append(job.pk)


def reconcile(*, now=None, dispatch_released: bool = True) -> ReconcileReport:
    """The periodic repair pass: expired leases, lost deliveries, missed releases, stale results."""
    now = now or timezone.now()
    report = ReconcileReport()
    for job in Job.objects.filter(state=Job.State.RUNNING, lease_expires_at__lt=now):
        try:
            _expired(job, now, report, dispatch_released)
        except PipelineError as exc:
            # One job's broken state (a cycle edited in by hand) must not stop the others'.
            log.error("reconcile: job %s left as it is: %s", job.pk, exc)
            report.skipped.append(job.pk)
    if report.requeued or report.adopted or report.failed:
        log.warning("reconcile: %d expired leases (%d re-queued, %d adopted, %d failed)",
                    len(report.requeued) + len(report.adopted) + len(report.failed),
                    len(report.requeued), len(report.adopted), len(report.failed))

    # One batched pass over every waiting job: a fixed number of queries, however many wait.
    # (Those released above by a failed job were delivered when their transaction committed.)
    released, _ = director.release_waiting()
    report.released += released

    report.stale_resubmitted = len(resubmit_stale(dispatch=dispatch_released).jobs)

    # A delivery is lost when a Redis cluster dies holding it; when the broker is empty and a
    # job has sat queued longer than the broker's retry, nobody is going to deliver it.
    retry = int(settings.Q_CLUSTER.get("retry", 60))
    if _broker_is_empty():
        old = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - timedelta(seconds=retry))
        report.redispatched = list(Job.objects.next_up().filter(old).values_list("pk", flat=True))
    to_send = report.requeued + released + report.redispatched
    if dispatch_released and to_send:
        jobs.dispatch(sorted(set(to_send), key=to_send.index))
    return report


def resubmit_stale(*, dispatch: bool = True, limit: int = 1000) -> SubmitReport:
    """Pairs whose latest outcome is stale and which could run now: submit them again.

    Everything that makes a pair unsubmittable is filtered in SQL before the limit (a test
    not approved or not its latest version, a model likewise, a live job for the pair), so
    pairs that cannot be submitted never fill the limit and starve the others. A test whose
    dependency graph is broken (rows edited by hand) is found only by walking its graph: it is
    logged and left out of the pages after the one it was found in, and the read pages forward
    (oldest first) past its rows until ``limit`` pairs are chosen or no stale row is left.
    """
    pairs: dict[tuple[str, str], tuple] = {}
    checked: set[int] = set()
    broken: set[int] = set()
    for table in TestResult.objects, Error.objects.filter(test__isnull=False):
        stale = (table.filter(stale=True).latest_per_pair()
                 .filter(test__status=Status.APPROVED, model__status=Status.APPROVED)
                 .exclude(Exists(Test.objects.filter(number=OuterRef("runner_number"),
                                                     version__gt=OuterRef("runner_version"))))
                 .exclude(Exists(Model.objects.filter(number=OuterRef("subject_number"),
                                                      version__gt=OuterRef("subject_version"))))
                 .exclude(Exists(Job.objects.active().filter(runner_kim_id=OuterRef("test__kim_id"),
                                                             subject_kim_id=OuterRef("model__kim_id"))))
                 .select_related("test", "model").order_by("created_at", "pk"))
        after = Q()
        while len(pairs) < limit:
            page = list(stale.filter(after).exclude(test__in=broken)[:limit])
            for row in page:
                if row.test_id not in checked:
                    checked.add(row.test_id)
                    try:
                        director.check_dependency_graph(row.test)
                    except PipelineDependencyError as exc:
                        log.error("stale pairs of %s not re-submitted: %s", row.test.kim_id, exc)
                        broken.add(row.test_id)
                if row.test_id not in broken and len(pairs) < limit:
                    pairs.setdefault((row.test.kim_id, row.model.kim_id), (row.test, row.model))
            if len(page) < limit:
                break
            last = page[-1]
            after = Q(created_at__gt=last.created_at) | Q(created_at=last.created_at, pk__gt=last.pk)
    if not pairs:
        return SubmitReport()
    return director.submit_pairs(list(pairs.values()), reason="stale result", dispatch=dispatch)
