"""System checks for queue settings that would make a job run twice."""

from django.conf import settings
from django.core.checks import Error, Warning, register

from kimsite import config


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
    if cluster.get("bulk", 1) > 1 and not cluster.get("sync"):
        problems.append(Warning(
            "Q_CLUSTER bulk > 1 lets one cluster hold several long jobs waiting in memory; time "
            "spent waiting there counts against retry.", id="runner.W001"))
    return problems
