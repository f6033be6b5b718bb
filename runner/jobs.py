"""Running one Job exactly once: claim with a lease, run the pair, record, release dependents.

The broker only delivers job ids; every state change here is a conditional UPDATE on the
Job row, so a second delivery, a dead worker or a second cluster cannot run a pair twice.
"""

import logging
import os
import socket
import uuid
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing import get_context

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.tasks import async_task
from tqdm import tqdm

from repository.kimcodes import parse_kim_code
from repository.models import (
    Error,
    Model,
    Test,
    TestResult,
    VerificationCheck,
)
from runner import director, execute
from runner.models import Job

log = logging.getLogger("pipeline.jobs")


def lease_seconds() -> int:
    return int(settings.Q_CLUSTER.get("timeout") or settings.JOB_TIMEOUT) + settings.PIPELINE_LEASE_GRACE


def new_owner() -> str:
    """``node:pid:token``: pipelinestatus and the admin say which machine and process holds a job.

    The node is PIPELINE_NODE_NAME when set, else the host name.
    """
    node = settings.PIPELINE_NODE_NAME or socket.gethostname()
    return f"{node}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(job_id: int, owner: str, *, now=None) -> Job | None:
    """Take a queued job with a lease; None when someone else has it or it is no longer queued."""
    now = now or timezone.now()
    claimed = Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING, lease_owner=owner,
        lease_expires_at=now + timedelta(seconds=lease_seconds()),
        started_at=now, updated_at=now, attempts=F("attempts") + 1,
    )
    if claimed != 1:
        return None
    return Job.objects.get(pk=job_id)


def landed_outcome(job: Job):
    """An outcome for this job's pair and versions made since the job was created, if any.

    A job exists only when its pair had no current outcome (or was forced, and then the old
    outcome predates the job), so such an outcome is this job's: a worker that died after
    writing it must not cause a second one.
    """
    runner, subject = parse_kim_code(job.runner_kim_id), parse_kim_code(job.subject_kim_id)
    found = []
    for rows in director.outcome_tables(runner.leader):
        row = (rows.filter(runner_number=runner.number, runner_version=runner.version,
                           subject_number=subject.number, subject_version=subject.version,
                           created_at__gte=job.created_at, stale=False)
               .order_by("-created_at").first())
        if row is not None:
            found.append(row)
    return max(found, key=lambda o: o.created_at) if found else None


def _best_queued(job_id: int) -> int | None:
    """The job a delivery for ``job_id`` should run: a better-ranked queued job, else its own.

    The brokers are first in, first out; taking the best queued job at delivery time is what
    makes priorities hold across submissions. Every job has a delivery of its own, so a
    delivery whose job another delivery took runs one that is still queued, or nothing.
    """
    own = Job.objects.filter(pk=job_id).values_list("state", "priority").first()
    queued = Job.objects.next_up()
    if own and own[0] == Job.State.QUEUED:
        return queued.filter(priority__lt=own[1]).values_list("pk", flat=True).first() or job_id
    return queued.values_list("pk", flat=True).first()


def run_job(job_id: int, *, exact: bool = True, dispatch_released: bool = True) -> str:
    """The whole life of one delivery of a job; returns what happened (for logs and tests).

    ``exact=False`` (the queue task) runs the best queued job instead when one outranks it.
    """
    owner = new_owner()
    job = None
    for _ in range(1 if exact else 3):  # a lost race for the best job: look again
        target = job_id if exact else _best_queued(job_id)
        job = claim(target, owner) if target is not None else None
        if job is not None:
            break
    if job is None:
        state = Job.objects.filter(pk=job_id).values_list("state", flat=True).first()
        log.info("job %s not claimed (state %s): delivered twice or taken elsewhere", job_id, state)
        return "not-claimed"
    log.info("job %s claimed by %s (attempt %d): %s × %s", job.pk, owner, job.attempts,
             job.runner_kim_id, job.subject_kim_id)
    outcome = landed_outcome(job)
    if outcome is not None:
        log.warning("job %s: outcome %s already landed; recording it instead of running again",
                    job.pk, outcome.kim_id)
    else:
        try:
            runner = _runner(job.runner_kim_id)
            model = Model.objects.get(kim_id=job.subject_kim_id)
            # A forced run (a curator's re-run, a new driver) also retries a failed build.
            outcome = execute.run_pair(runner, model, rebuild=job.force)
        except Exception as exc:  # noqa: BLE001 — any failure of the machinery is an attempt lost
            log.exception("job %s attempt %d failed", job.pk, job.attempts)
            return attempt_failed(job, owner, f"{type(exc).__name__}: {exc}",
                                  dispatch_released=dispatch_released)
    return "done" if complete(job, owner, outcome, dispatch_released=dispatch_released) \
        else "lease-lost"


def _runner(kim_id: str):
    leader = parse_kim_code(kim_id).leader
    table = Test if leader == "TE" else VerificationCheck
    return table.objects.get(kim_id=kim_id)


def complete(job: Job, owner: str, outcome, *, dispatch_released: bool = True) -> bool:
    """Record the outcome once: only the lease holder may; the rest follows in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        done = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, lease_owner=owner).update(
            state=Job.State.DONE, outcome_kim_id=outcome.kim_id, finished_at=now, updated_at=now,
            lease_expires_at=None, last_error="",
        )
        if done != 1:
            # Our lease expired and the job was queued again; the outcome exists, so whoever
            # claims it next records this outcome (landed_outcome) instead of running again.
            log.warning("job %s: lease of %s lost before completion; outcome %s kept for the "
                        "next claimant", job.pk, owner, outcome.kim_id)
            return False
        after_outcome(job, outcome, dispatch_released=dispatch_released)
    log.info("job %s done: %s", job.pk, outcome.kim_id)
    return True


def after_outcome(job: Job, outcome, *, dispatch_released: bool = True) -> None:
    """A result landed: stale its downstream results, then release the jobs waiting for it."""
    if isinstance(outcome, TestResult):
        director.upstream_changed(outcome, dispatch=dispatch_released)
    queued, _failed = director.release_waiting(job.subject_kim_id)
    if queued and dispatch_released:
        transaction.on_commit(lambda ids=queued: dispatch(ids))


def attempt_failed(job: Job, owner: str, message: str, *, dispatch_released: bool = True) -> str:
    """Queue again while attempts remain, else fail (and fail what waits on it)."""
    now = timezone.now()
    with transaction.atomic():
        if job.attempts < job.max_attempts:
            state = Job.State.QUEUED
        else:
            state = Job.State.FAILED
        changed = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, lease_owner=owner).update(
            state=state, lease_owner="", lease_expires_at=None, updated_at=now,
            last_error=message[:5000], finished_at=now if state == Job.State.FAILED else None,
        )
        if not changed:
            return "lease-lost"
        if state == Job.State.QUEUED and dispatch_released:
            transaction.on_commit(lambda: dispatch([job.pk]))
        if state == Job.State.FAILED:
            director.release_waiting(job.subject_kim_id)
    log.warning("job %s attempt %d/%d failed (%s): %s", job.pk, job.attempts, job.max_attempts,
                state, message)
    return str(state)


def dispatch(job_ids) -> int:
    """Hand job ids to the django-q2 broker (delivery only; the claim decides who runs)."""
    job_ids = list(job_ids)
    if not job_ids:
        return 0
    for start in range(0, len(job_ids), 500):
        Job.objects.filter(pk__in=job_ids[start:start + 500]).update(enqueued_at=timezone.now())
    # One transaction for the ORM broker's rows: one commit instead of one per delivery.
    with transaction.atomic():
        for pk in job_ids:
            async_task("runner.tasks.run_job", pk, task_name=f"job-{pk}", group="pipeline-jobs")
    log.info("dispatched %d jobs", len(job_ids))
    return len(job_ids)


def cancel(jobs) -> int:
    """Cancel jobs that have not started; running jobs finish (their worker holds a lease)."""
    ids = list(jobs.filter(state__in=[Job.State.WAITING, Job.State.QUEUED])
               .values_list("pk", flat=True))
    cancelled = Job.objects.filter(pk__in=ids, state__in=[Job.State.WAITING, Job.State.QUEUED]) \
        .update(state=Job.State.CANCELLED, finished_at=timezone.now(), lease_owner="")
    if cancelled:
        for subject in set(Job.objects.filter(pk__in=ids).values_list("subject_kim_id", flat=True)):
            director.release_waiting(subject)
    return cancelled


@dataclass
class ReconcileReport:
    adopted: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    redispatched: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    stale_resubmitted: int = 0

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


def reconcile(*, now=None, dispatch_released: bool = True) -> ReconcileReport:
    """The periodic repair pass: expired leases, lost deliveries, missed releases, stale results."""
    now = now or timezone.now()
    report = ReconcileReport()
    for job in Job.objects.filter(state=Job.State.RUNNING, lease_expires_at__lt=now):
        outcome = landed_outcome(job)
        with transaction.atomic():
            mine = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING,
                                      lease_owner=job.lease_owner, lease_expires_at__lt=now)
            if outcome is not None:
                if mine.update(state=Job.State.DONE, outcome_kim_id=outcome.kim_id,
                               finished_at=now, updated_at=now, lease_expires_at=None):
                    after_outcome(job, outcome, dispatch_released=dispatch_released)
                    report.adopted.append(job.pk)
            elif job.attempts >= job.max_attempts:
                if mine.update(state=Job.State.FAILED, finished_at=now, updated_at=now,
                               last_error=f"lease of {job.lease_owner} expired after attempt "
                                          f"{job.attempts}/{job.max_attempts}: worker died?"):
                    director.release_waiting(job.subject_kim_id)
                    report.failed.append(job.pk)
            elif mine.update(state=Job.State.QUEUED, lease_owner="", lease_expires_at=None,
                             updated_at=now,
                             last_error=f"lease of {job.lease_owner} expired at "
                                        f"{job.lease_expires_at:%Y-%m-%d %H:%M:%S}; queued again"):
                report.requeued.append(job.pk)
    if report.requeued or report.adopted or report.failed:
        log.warning("reconcile: %d expired leases (%d re-queued, %d adopted, %d failed)",
                    len(report.requeued) + len(report.adopted) + len(report.failed),
                    len(report.requeued), len(report.adopted), len(report.failed))

    for subject in set(Job.objects.filter(state=Job.State.WAITING)
                       .values_list("subject_kim_id", flat=True)):
        queued, _ = director.release_waiting(subject)
        report.released += queued

    report.stale_resubmitted = len(resubmit_stale(dispatch=dispatch_released).jobs)

    # A delivery is lost when a Redis cluster dies holding it; when the broker is empty and a
    # job has sat queued longer than the broker's retry, nobody is going to deliver it.
    retry = int(settings.Q_CLUSTER.get("retry", 60))
    if _broker_is_empty():
        old = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - timedelta(seconds=retry))
        report.redispatched = list(Job.objects.next_up().filter(old).values_list("pk", flat=True))
    to_send = report.requeued + report.released + report.redispatched
    if dispatch_released and to_send:
        dispatch(sorted(set(to_send), key=to_send.index))
    return report


def resubmit_stale(*, dispatch: bool = True, limit: int = 1000):
    """Pairs whose latest result is stale and which have no live job: submit them again."""
    numbers = set()
    for rows in (TestResult.objects, Error.objects.filter(test__isnull=False)):
        numbers.update(rows.filter(stale=True).latest_per_pair()
                       .values_list("runner_number", "subject_number")[:limit])
    if not numbers:
        return director.SubmitReport()
    tests = {t.number: t for t in Test.objects.filter(
        number__in={n for n, _ in numbers}).latest_versions().approved()}
    models = {m.number: m for m in Model.objects.filter(
        number__in={n for _, n in numbers}).latest_versions().approved()}
    pairs = [(tests[t], models[m]) for t, m in numbers if t in tests and m in models]
    return director.submit_pairs(pairs, reason="stale result", dispatch=dispatch)


# --- running everything queued on this machine, without a cluster ---------------------------


def _child_run(job_id: int) -> str:
    # Released dependents are not sent to the broker: this same run_pending picks them up.
    return run_job(job_id, dispatch_released=False)


def run_pending(workers: int = 1, *, progress: bool = True, stream=None) -> Counter:
    """Run every queued job here (and what they release) with ``workers`` processes.

    Each process calls the same ``run_job`` a cluster worker calls, so claims, leases and
    releases behave exactly as under qcluster; a job another machine claims first is skipped.
    Returns counts by what each job left: TR, VR, ER, failed, taken elsewhere.
    """
    summary: Counter = Counter()
    bar = tqdm(total=Job.objects.next_up().count(), unit="job", disable=not progress,
               file=stream, desc="jobs")

    def record(job_id: int, status: str) -> None:
        job = Job.objects.filter(pk=job_id).values("state", "outcome_kim_id").first()
        if status == "not-claimed":
            summary["taken elsewhere"] += 1
        elif job and job["state"] == Job.State.DONE:
            summary[job["outcome_kim_id"][:2]] += 1
        elif job and job["state"] == Job.State.QUEUED:
            summary["retried"] += 1
            return
        else:
            summary[str(job["state"]) if job else "vanished"] += 1
        bar.total = max(bar.total, bar.n + 1 + Job.objects.next_up().count())
        bar.update(1)

    if workers <= 1:
        while (job_id := Job.objects.next_up().values_list("pk", flat=True).first()) is not None:
            record(job_id, run_job(job_id, dispatch_released=False))
    else:
        in_flight: dict = {}
        connections.close_all()
        # Forked children open their own connections: the parent closes its own before each fork.
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            while True:
                free = workers - len(in_flight)
                if free:
                    ids = list(Job.objects.next_up().exclude(pk__in=list(in_flight.values()))
                               .values_list("pk", flat=True)[:free])
                    connections.close_all()  # never fork with an open connection
                    for job_id in ids:
                        in_flight[pool.submit(_child_run, job_id)] = job_id
                if not in_flight:
                    break
                finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for future in finished:
                    record(in_flight.pop(future), future.result())
    bar.close()
    summary["still waiting"] = Job.objects.filter(state=Job.State.WAITING).count()
    return summary


def status_report(*, now=None, limit: int = 50) -> dict:
    """What pipelinestatus prints: counts by state, running jobs with age, waiting pairs."""
    now = now or timezone.now()
    counts = {row["state"]: row["n"] for row in
              Job.objects.order_by().values("state").annotate(n=Count("pk"))}
    running = [
        {"job": job.pk, "runner": job.runner_kim_id, "subject": job.subject_kim_id,
         "owner": job.lease_owner, "age": now - (job.started_at or job.created_at),
         "expired": bool(job.lease_expires_at and job.lease_expires_at < now)}
        for job in Job.objects.filter(state=Job.State.RUNNING).order_by("started_at")[:limit]
    ]
    waiting = [{"job": job.pk, "runner": job.runner_kim_id, "subject": job.subject_kim_id,
                "waiting_on": director.waiting_on(job)}
               for job in Job.objects.filter(state=Job.State.WAITING).order_by("created_at")[:limit]]
    return {"counts": {state: counts.get(state, 0) for state in Job.State.values},
            "running": running, "waiting": waiting}
