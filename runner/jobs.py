"""Running one Job exactly once: claim with a lease, run the pair, record, release dependents.

The broker only delivers job ids; every state change here is a conditional UPDATE on the
Job row, so a second delivery, a dead worker or a second cluster cannot run a pair twice.
While the runner runs, the worker renews the lease every heartbeat; reconcile (runner.reconcile)
queues again only the jobs of workers that stopped renewing.
"""

import logging
import os
import socket
import time
import uuid
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from datetime import timedelta
from multiprocessing import get_context

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import connections, router, transaction
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from repository.errors import PipelineDependencyError, PipelineError
from repository.kimcodes import parse_kim_code
from repository.models import (
    Model,
    Test,
    TestResult,
    VerificationCheck,
    latest_outcome,
    outcome_tables,
)
from runner import cleanup, director, execute, pairs
from runner.dispatch import dispatch
from runner.leases import (  # noqa: F401  (the queue's API, as before)
    DATABASE_GONE,
    LeaseLost,
    database_gone,
    extend_lease,
    heartbeat_for,
    lease_seconds,
)
from runner.models import Job

log = logging.getLogger("pipeline.jobs")


def new_owner() -> str:
    """``node:pid:token``: pipelinestatus and the admin say which machine and process holds a job.

    The node is PIPELINE_NODE_NAME when set, else the host name.
    """
    node = settings.PIPELINE_NODE_NAME or socket.gethostname()
    return f"{node}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claim_where(picked: str, params: list, owner: str, now) -> Job | None:
    """Claim the queued job whose pk is ``picked`` (SQL: a placeholder or a subquery), with a
    lease: one ``UPDATE … RETURNING`` that also gives back its row (SQLite 3.35+, runner.E005;
    PostgreSQL). None when no queued job matched.

    One round trip: the claim is every job's first statement, and the conditional UPDATE is
    what makes a job run once (a second claimer matches nothing).
    """
    alias = router.db_for_write(Job)
    ops = connections[alias].ops
    started = ops.adapt_datetimefield_value(now)
    expires = ops.adapt_datetimefield_value(now + timedelta(seconds=lease_seconds()))
    values = {"state": Job.State.RUNNING, "lease_owner": owner, "lease_expires_at": expires,
              "started_at": started, "updated_at": started}
    assignments = ", ".join(f"{ops.quote_name(name)} = %s" for name in values)
    attempts = ops.quote_name("attempts")
    columns = ", ".join(ops.quote_name(field.column) for field in Job._meta.concrete_fields)
    sql = (f"UPDATE {ops.quote_name(Job._meta.db_table)} SET {assignments}, "
           f"{attempts} = {attempts} + 1 WHERE {ops.quote_name(Job._meta.pk.column)} = {picked} "
           f"AND {ops.quote_name('state')} = %s RETURNING {columns}")
    claimed = list(Job.objects.db_manager(alias).raw(
        sql, [*values.values(), *params, Job.State.QUEUED]))
    return claimed[0] if claimed else None


def claim(job_id: int, owner: str, *, now=None) -> Job | None:
    """Take a queued job with a lease; None when someone else has it or it is no longer queued."""
    return _claim_where("%s", [job_id], owner, now or timezone.now())


def claim_best(owner: str, *, job_id: int | None = None, task_timeout: int | None = None,
               now=None) -> Job | None:
    """Take the best-ranked queued job (priority, then age) with a lease; None when none is left.

    With ``task_timeout`` (the delivery's own, which django-q2 kills it at), only jobs whose
    task timeout fits in it, and the delivery's own job ``job_id`` whatever its timeout.

    The brokers are first in, first out; taking the best queued job at delivery time is what
    makes priorities hold across submissions. Every job has a delivery of its own, so each
    delivery takes one job and none is left without a taker. The best job is chosen inside the
    claiming UPDATE: on PostgreSQL the best row not locked by another claimer (``FOR UPDATE
    SKIP LOCKED``), so concurrent claimers never collide; on SQLite writers are serialised.
    """
    alias = router.db_for_write(Job)
    candidates = Job.objects.next_up()
    if task_timeout is not None:
        candidates = candidates.filter(Q(task_timeout__lte=task_timeout) | Q(pk=job_id))
    best, params = candidates.values("pk")[:1].query.get_compiler(alias).as_sql()
    if connections[alias].vendor == "postgresql":
        best += " FOR UPDATE SKIP LOCKED"
    return _claim_where(f"({best})", list(params), owner, now or timezone.now())


def landed_outcome(job: Job):
    """The current outcome of this job's pair, if it was made for the job's versions since the job.

    A job exists only when its pair had no current outcome (or was forced, and then the old
    outcome predates the job), so such an outcome is this job's: a worker that died after
    writing it must not cause a second one.
    """
    runner, subject = parse_kim_code(job.runner_kim_id), parse_kim_code(job.subject_kim_id)
    # Almost always nothing landed: one cheap indexed look per table says so before the full
    # definition of the current outcome (two correlated subqueries per table) is asked.
    if not any(table.filter(runner_number=runner.number, subject_number=subject.number,
                            created_at__gte=job.created_at).exists()
               for table in outcome_tables(runner.leader)):
        return None
    outcome = latest_outcome(runner, subject)
    if outcome is None or outcome.created_at < job.created_at:
        return None
    if (outcome.runner_version, outcome.subject_version) != (runner.version, subject.version):
        return None
    return outcome


_cleaned_in: int | None = None


def clean_once_per_process() -> None:
    """What dead workers left (runner.cleanup), once per worker process: at its first task."""
    global _cleaned_in
    if _cleaned_in == os.getpid():
        return
    _cleaned_in = os.getpid()
    try:
        cleanup.clean_dead_owners()
    except Exception:  # noqa: BLE001 — a failed cleanup must not cost the job its run
        log.exception("cleanup of dead owners failed")


def prepare_worker_process() -> None:
    """A new worker process (a qcluster worker's spawn, a run_pending child): clean what dead
    workers left, and start its warm server ahead of its first job."""
    clean_once_per_process()
    execute.start_warm_server()


def run_job(job_id: int, *, exact: bool = True, dispatch_released: bool = True,
            task_timeout: int | None = None) -> str:
    """The whole life of one delivery of a job; returns what happened (for logs and tests).

    ``exact=False`` (the queue task) runs the best queued job instead (``claim_best``) whose
    task timeout fits in the delivery's ``task_timeout``.
    """
    clean_once_per_process()
    owner = new_owner()
    claimed_at = time.monotonic()
    job = claim(job_id, owner) if exact else \
        claim_best(owner, job_id=job_id, task_timeout=task_timeout)
    if job is None:
        state = Job.objects.filter(pk=job_id).values_list("state", flat=True).first()
        log.info("job %s not claimed (state %s): delivered twice or taken elsewhere", job_id, state)
        return "not-claimed"
    log.info("job %s claimed by %s (attempt %d): %s × %s", job.pk, owner, job.attempts,
             job.runner_kim_id, job.subject_kim_id)
    try:
        # A job that names no runnable pair (a malformed or unknown ID) fails, saying why.
        runner, model = _pair_of(job)
        # At a job's first claim, never given back (reconcile and a database gone say why in
        # last_error), no worker of this job can have kept anything: nothing to look for.
        outcome = landed_outcome(job) if job.attempts > 1 or job.last_error else None
    except (PipelineError, ObjectDoesNotExist) as exc:
        return fail(job, owner, f"cannot run: {exc}", dispatch_released=dispatch_released)
    if outcome is not None:
        # Harmless (a worker died after keeping it): recorded, not run twice; no warning.
        log.info("job %s: outcome %s already landed; recording it instead of running again",
                 job.pk, outcome.kim_id)
        return _completed(job, owner, outcome, dispatch_released)
    try:
        if isinstance(runner, Test):
            # Rows edited by hand can close a cycle the importer refused: this job fails, naming it.
            director.check_dependency_graph(runner)
        # A forced run (a curator's re-run, a new driver) also retries a failed build.
        outcome = execute.run_pair(runner, model, rebuild=job.force,
                                   heartbeat=heartbeat_for(job, owner, renewed_at=claimed_at))
    except PipelineDependencyError as exc:
        return fail(job, owner, str(exc), dispatch_released=dispatch_released)
    except LeaseLost as exc:
        # Not this attempt's failure: the job is its new holder's (or queued for one) now.
        log.warning("%s; the run was stopped, nothing kept, the job left to its new holder", exc)
        return "lease-lost"
    except DATABASE_GONE as exc:
        return database_gone(job, owner, exc, dispatch_released=dispatch_released)
    except Exception as exc:  # noqa: BLE001 — any failure of the machinery is an attempt lost
        log.exception("job %s attempt %d failed", job.pk, job.attempts)
        return attempt_failed(job, owner, f"{type(exc).__name__}: {exc}",
                              dispatch_released=dispatch_released)
    return _completed(job, owner, outcome, dispatch_released)


def _completed(job: Job, owner: str, outcome, dispatch_released: bool) -> str:
    return "done" if complete(job, owner, outcome, dispatch_released=dispatch_released) \
        else "lease-lost"


def _pair_of(job: Job) -> tuple:
    """The runner and model rows a job names, or a PipelineError saying which is missing."""
    leader = parse_kim_code(job.runner_kim_id).leader
    if leader not in ("TE", "VC"):
        raise PipelineError(f"the runner {job.runner_kim_id} is not a test or a verification check")
    if parse_kim_code(job.subject_kim_id).leader not in ("MO", "SM"):
        raise PipelineError(f"the subject {job.subject_kim_id} is not a model")
    table = Test if leader == "TE" else VerificationCheck
    runner = table.objects.filter(kim_id=job.runner_kim_id).first()
    if runner is None:
        raise PipelineError(f"no {table._meta.verbose_name} {job.runner_kim_id} in the database")
    model = Model.objects.filter(kim_id=job.subject_kim_id).first()
    if model is None:
        raise PipelineError(f"no model {job.subject_kim_id} in the database")
    return runner, model


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
    """An outcome landed: it supersedes the pair's older outcomes for the same versions (a forced
    re-run); a result stales its downstream results; then the jobs waiting for it are released."""
    pairs.supersede(outcome)
    if isinstance(outcome, TestResult):
        director.upstream_changed(outcome, dispatch=dispatch_released)
    release_and_dispatch(job.subject_kim_id, dispatch_released=dispatch_released)


def release_and_dispatch(subject_kim_id: str, *, dispatch_released: bool = True) -> list[int]:
    """Release the jobs waiting on pairs of this subject; deliver the queued ones after commit.

    Every path that ends a job (a result, a failure, a cancel, an expired lease) releases
    through here, so no job it queues is left without a delivery. Returns the queued ids.
    """
    queued, _failed = director.release_waiting(subject_kim_id)
    if queued and dispatch_released:
        transaction.on_commit(lambda ids=queued: dispatch(ids))
    return queued


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
            release_and_dispatch(job.subject_kim_id, dispatch_released=dispatch_released)
    log.warning("job %s attempt %d/%d failed (%s): %s", job.pk, job.attempts, job.max_attempts,
                state, message)
    return str(state)


def fail(job: Job, owner: str, message: str, *, dispatch_released: bool = True) -> str:
    """End a running job as failed at once (no retry can help), and what waits on it."""
    now = timezone.now()
    with transaction.atomic():
        if not Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, lease_owner=owner).update(
                state=Job.State.FAILED, lease_owner="", lease_expires_at=None, updated_at=now,
                finished_at=now, last_error=message[:5000]):
            return "lease-lost"
        release_and_dispatch(job.subject_kim_id, dispatch_released=dispatch_released)
    log.error("job %s failed: %s", job.pk, message)
    return str(Job.State.FAILED)


def cancel(jobs) -> int:
    """Cancel jobs that have not started; running jobs finish (their worker holds a lease).

    What waited on them is looked at again: it fails, or (waiting on other pairs too) is
    queued and delivered.
    """
    ids = list(jobs.filter(state__in=[Job.State.WAITING, Job.State.QUEUED])
               .values_list("pk", flat=True))
    cancelled = Job.objects.filter(pk__in=ids, state__in=[Job.State.WAITING, Job.State.QUEUED]) \
        .update(state=Job.State.CANCELLED, finished_at=timezone.now(), lease_owner="")
    if cancelled:
        for subject in set(Job.objects.filter(pk__in=ids).values_list("subject_kim_id", flat=True)):
            release_and_dispatch(subject)
    return cancelled


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
    clean_once_per_process()
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
        with ProcessPoolExecutor(workers, mp_context=get_context("fork"),
                                 initializer=prepare_worker_process) as pool:
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
