"""System checks: queue settings that would make a job run twice, and the runs' sandbox."""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.db import connections, router

from kimsite import config
from runner import sandbox
from runner.models import Job


def lease_seconds() -> float:
    """A job's lease: PIPELINE_LEASE_HEARTBEATS heartbeats plus PIPELINE_LEASE_GRACE (runner.jobs)."""
    return (settings.PIPELINE_HEARTBEAT_SECONDS * settings.PIPELINE_LEASE_HEARTBEATS
            + settings.PIPELINE_LEASE_GRACE)


@register("pipeline")
def check_queue_timeouts(app_configs=None, **kwargs):
    """django-q2 hands a task out again after ``retry`` s: it must outlast ``timeout``."""
    cluster = getattr(settings, "Q_CLUSTER", {})
    timeout, retry = cluster.get("timeout"), cluster.get("retry")
    problems = []
    if timeout is None:
        problems.append(Error(
            "Q_CLUSTER has no timeout: a hung job would hold its worker and its lease forever.",
            hint="Set Q_CLUSTER['timeout'] (JOB_TIMEOUT).", id="runner.E002"))
    elif retry is not None and retry <= timeout:
        problems.append(Error(
            f"Q_CLUSTER retry ({retry} s) must be larger than timeout ({timeout} s): a task still "
            "running would be handed out again and run twice.",
            hint="Set Q_RETRY above JOB_TIMEOUT (the default is JOB_TIMEOUT + 120).",
            id="runner.E001"))
    if timeout is not None and timeout <= config.RUNNER_TIMEOUT:
        problems.append(Warning(
            f"Q_CLUSTER timeout ({timeout} s) does not exceed RUNNER_TIMEOUT "
            f"({config.RUNNER_TIMEOUT} s): the cluster kills a slow run before the runner can "
            "record it as a timeout, and the job is retried instead.",
            hint="Leave JOB_TIMEOUT at its default (RUNNER_TIMEOUT + 60).", id="runner.W002"))
    beat, lease = settings.PIPELINE_HEARTBEAT_SECONDS, lease_seconds()
    if lease < beat + settings.PIPELINE_RENDER_TIMEOUT:
        # Rendering runs before the first heartbeat: a lease shorter than a render plus one
        # beat lapses under a live worker, and its job is queued again while it runs.
        problems.append(Error(
            f"a job's lease ({lease} s) is shorter than one heartbeat ({beat} s) plus "
            f"PIPELINE_RENDER_TIMEOUT ({settings.PIPELINE_RENDER_TIMEOUT} s): a live worker "
            "would lose its job to another.",
            hint="Raise PIPELINE_LEASE_HEARTBEATS or PIPELINE_LEASE_GRACE.", id="runner.E003"))
    if cluster.get("bulk", 1) > 1 and not cluster.get("sync"):
        problems.append(Warning(
            "Q_CLUSTER bulk > 1 lets one cluster hold several long jobs waiting in memory; time "
            "spent waiting there counts against retry.", id="runner.W001"))
    return problems


@register("pipeline")
def check_sandbox(app_configs=None, **kwargs):
    """Runs are untrusted code: without the sandbox they see the worker's files and network."""
    if not sandbox.enabled():
        return [Warning(
            "PIPELINE_SANDBOX is off: runners run without namespaces and can read the "
            "database, the secret key and the network of the worker (only the environment "
            "allowlist and the resource limits remain).",
            hint="Install bubblewrap (bwrap) and unset PIPELINE_SANDBOX.", id="runner.W003")]
    if sandbox.bwrap() is None:
        return [Error("PIPELINE_SANDBOX is on but bwrap is not installed: every run would fail.",
                      hint="apt-get install bubblewrap, or set PIPELINE_SANDBOX=off on a machine "
                           "without user namespaces.", id="runner.E004")]
    return []


@register("pipeline")
def check_database_features(app_configs=None, **kwargs):
    """A job's claim is one ``UPDATE … RETURNING`` (runner.jobs): SQLite has it from 3.35."""
    connection = connections[router.db_for_write(Job)]
    if connection.vendor == "sqlite" and connection.Database.sqlite_version_info < (3, 35):
        return [Error(
            f"SQLite {connection.Database.sqlite_version} has no UPDATE … RETURNING: no job "
            "could be claimed.",
            hint="Use SQLite 3.35 or newer (Debian 12 has 3.40), or PostgreSQL.",
            id="runner.E005")]
    return []
