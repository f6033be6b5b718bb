"""What ``pipelinestatus`` shows, as plain data: outcomes by category, then the jobs.

Errors have their own place: a job that ended in an Error is "done" for the queue, but its
pair failed, so the outcomes are counted by category (results, errors per category, stale)
and the done jobs are split by what they left.
"""

import os
import socket
from collections import Counter

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from repository.models import Error, TestResult, VerificationResult
from runner import director, owners
from runner.models import Job


def outcome_counts() -> dict:
    """Current results and errors by kind and category; latest outcomes waiting to re-run."""
    errors = Counter(dict(Error.objects.current().order_by().values_list("category")
                          .annotate(n=Count("pk")).values_list("category", "n")))
    stale = sum(table.objects.latest_per_pair().filter(stale=True).count()
                for table in (TestResult, VerificationResult, Error))
    return {
        "test_results": TestResult.objects.current().count(),
        "verification_results": VerificationResult.objects.current().count(),
        "errors": dict(sorted(errors.items())),
        "stale": stale,
    }


def lease_owner_dead(lease_owner: str) -> bool:
    """A job's ``node:pid:token`` owner on this machine whose process is gone (never another's)."""
    parts = lease_owner.split(":")
    if len(parts) < 3 or not parts[-2].isdigit():
        return False
    node = settings.PIPELINE_NODE_NAME or socket.gethostname()
    pid = int(parts[-2])
    return ":".join(parts[:-2]) == node and pid != os.getpid() and not owners.pid_alive(pid)


def _pair(job: Job) -> dict:
    return {"job": job.pk, "runner": job.runner_kim_id, "model": job.subject_kim_id,
            "priority": job.get_priority_display(), "state": job.state}


def job_report(*, now=None, limit: int = 50, next_few: int = 5) -> dict:
    """Jobs by state (done split by what they left), queued by priority, running, waiting."""
    now = now or timezone.now()
    counts = dict(Job.objects.order_by().values_list("state").annotate(n=Count("pk"))
                  .values_list("state", "n"))
    done_with_error = Job.objects.filter(state=Job.State.DONE, outcome_kim_id__startswith="ER_").count()
    queued = dict(Job.objects.filter(state=Job.State.QUEUED).order_by().values_list("priority")
                  .annotate(n=Count("pk")).values_list("priority", "n"))
    running = []
    for job in Job.objects.filter(state=Job.State.RUNNING).order_by("started_at")[:limit]:
        running.append(_pair(job) | {
            "owner": job.lease_owner, "age_seconds": int((now - (job.started_at or job.created_at))
                                                         .total_seconds()),
            "lease_expired": bool(job.lease_expires_at and job.lease_expires_at < now),
            "owner_dead": lease_owner_dead(job.lease_owner)})
    waiting = [_pair(job) | {"waiting_on": director.waiting_on(job)}
               for job in Job.objects.filter(state=Job.State.WAITING).order_by("created_at")[:limit]]
    return {
        "counts": {state: counts.get(state, 0) for state in Job.State.values},
        "done_with_error": done_with_error,
        "queued_by_priority": {label: queued.get(value, 0) for value, label in Job.Priority.choices},
        "next": [_pair(job) for job in Job.objects.next_up()[:next_few]],
        "running": running,
        "waiting": waiting,
    }


def pipeline_status(*, now=None, limit: int = 50, next_few: int = 5) -> dict:
    return {"outcomes": outcome_counts(), "jobs": job_report(now=now, limit=limit, next_few=next_few)}
