"""A running job's lease: how long it holds, its renewal while the runner runs, and what
happens to an attempt the database broke (a restart, a failover): it is given back.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from repository.errors import PipelineError
from runner import checks
from runner.dispatch import dispatch
from runner.models import Job

log = logging.getLogger("pipeline.jobs")


def lease_seconds() -> int:
    """How long a claim or a heartbeat holds a job: a few heartbeats plus the grace.

    Not the job's whole timeout: a live worker renews the lease every heartbeat while its
    runner runs, so only a dead worker lets it lapse, and reconcile queues its job again
    within one lease period.
    """
    return checks.lease_seconds()


def extend_lease(job_id: int, owner: str, *, now=None) -> bool:
    """Renew a running job's lease for ``owner``; False when the lease is no longer theirs."""
    now = now or timezone.now()
    return bool(Job.objects.filter(pk=job_id, state=Job.State.RUNNING, lease_owner=owner).update(
        lease_expires_at=now + timedelta(seconds=lease_seconds()), updated_at=now))


class LeaseLost(PipelineError):
    """Another worker holds the job now (our lease expired): stop, keep nothing."""


#: What a database that went away (a restart, a failover, a cut connection) raises.
DATABASE_GONE = (OperationalError, InterfaceError)


def heartbeat_for(job: Job, owner: str, *, renewed_at: float | None = None):
    """The ``heartbeat`` run_pair calls while the runner runs: extend the lease, or stop the run.

    A database that does not answer does not stop the run: the beat is skipped and the next
    one tries on a new connection. If it stays away past the lease, reconcile queues the job
    again and the first beat that gets through finds the lease lost.

    ``renewed_at`` (``time.monotonic()`` just before the claim) is when the lease was last
    set. A lease is lost only by lapsing (reconcile takes expired leases only), and one set
    less than a heartbeat ago has at least ``lease_seconds() - heartbeat`` left (runner.E003
    keeps that above a render): such a beat is skipped. A short job's beats before its start
    and before its keep are then no UPDATEs (two of a no-op job's ~25 queries).
    """
    last = renewed_at if renewed_at is not None else float("-inf")

    def beat() -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < settings.PIPELINE_HEARTBEAT_SECONDS:
            return
        try:
            held = extend_lease(job.pk, owner)
        except DATABASE_GONE as exc:
            log.warning("job %s: lease not renewed, the database did not answer: %s", job.pk, exc)
            connection.close()
            return
        if not held:
            raise LeaseLost(f"job {job.pk}: the lease of {owner} was lost", kim_id=job.runner_kim_id)
        last = now
    return beat


def database_gone(job: Job, owner: str, exc: Exception, *, dispatch_released: bool = True) -> str:
    """The database went away under this attempt (a restart, a failover): not the job's fault.

    The job is queued again with its attempt given back, on a new connection, tried for up to
    one lease; a database away longer lets the lease lapse, and reconcile queues the job again
    (that lapse counts as an attempt).
    """
    message = f"database gone during attempt {job.attempts}: {type(exc).__name__}: {exc}"
    log.warning("job %s: %s; queued again, the attempt given back", job.pk, message)
    deadline = time.monotonic() + lease_seconds()
    while True:
        connection.close()
        try:
            with transaction.atomic():
                changed = Job.objects.filter(
                    pk=job.pk, state=Job.State.RUNNING, lease_owner=owner).update(
                    state=Job.State.QUEUED, lease_owner="", lease_expires_at=None,
                    attempts=F("attempts") - 1, updated_at=timezone.now(),
                    last_error=message[:5000])
                if changed and dispatch_released:
                    transaction.on_commit(lambda: dispatch([job.pk]))
            return "database-gone" if changed else "lease-lost"
        except DATABASE_GONE:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
