"""The django-q2 tasks: thin wrappers over runner.jobs and the director, named by dotted path."""

import logging

from django_q.models import Schedule

from repository import importer
from repository.errors import PipelineError
from repository.models import kim_obj
from runner import director, install, jobs
from runner import reconcile as repair
from runner.sync import periodic
from runner.sync.remote import configured_remote

log = logging.getLogger("pipeline.tasks")


def run_job(job_id: int, task_timeout: int | None = None) -> str:
    """One delivery: runs this job, or a queued job that outranks it; never one twice.

    ``task_timeout`` is the timeout django-q2 enforces on this delivery (runner.dispatch): a
    job that outranks this one is taken only if its own task timeout fits in it. A delivery
    that does not say (sent before deliveries carried it) runs only its own job.
    """
    if task_timeout is None:
        return jobs.run_job(job_id)
    return jobs.run_job(job_id, exact=False, task_timeout=task_timeout)


def reconcile() -> str:
    """Scheduled: expired leases, lost deliveries, missed releases, stale results."""
    report = repair.reconcile()
    log.info("reconcile: %s", report)
    return str(report)


def scan_repository() -> str:
    """Scheduled: import new or changed item folders and submit the jobs they call for."""
    report, made = import_and_submit()
    summary = f"import: {report.summary()}; {made} jobs submitted"
    log.info("scan: %s", summary)
    return summary


def import_and_submit():
    """The scan's work: (the ImportReport, how many jobs were submitted); also ``sync pull``'s."""
    report = importer.import_repository()
    # Models and drivers shipped as source must be installed before the KIM API can match them.
    install.install_sources()
    made = 0
    for kim_id in [*report.created, *report.updated]:
        item = kim_obj(kim_id)
        try:
            # An item changed under the same KIM ID makes its results for that version old news.
            made += len(director.on_item_changed(
                item, force=kim_id in report.updated,
                reason=f"scan: {kim_id} {'changed' if kim_id in report.updated else 'new'}").jobs)
        except PipelineError as exc:
            # One item's broken dependency graph must not stop the others' jobs.
            log.error("scan: no jobs for %s: %s", item.kim_id, exc)
    return report, made


#: Schedule name → task; the names are what makes ensure_schedules idempotent.
SCHEDULES = {
    "pipeline: scan repository": "runner.tasks.scan_repository",
    "pipeline: reconcile": "runner.tasks.reconcile",
}


def ensure_schedules(*, scan_minutes: int = 10, reconcile_minutes: int = 2) -> list[tuple]:
    """The periodic scan and reconcile, created once however often this runs."""
    minutes = {"runner.tasks.scan_repository": scan_minutes,
               "runner.tasks.reconcile": reconcile_minutes}
    made = []
    for name, func in SCHEDULES.items():
        schedule, created = Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES,
                                 "minutes": minutes[func], "repeats": -1})
        made.append((schedule, created))
    return made


# With a remote repository (RSYNC_ADDRESS; docs/SYNC.md): runner.sync.periodic does the work.
def sync_remote() -> str:
    """Scheduled: push the outcomes that wait, pull new items, import them and submit their jobs."""
    exchanged = periodic.exchange()
    return f"{exchanged}; {scan_repository()}"


def publish_results() -> str:
    """Scheduled: move whole results REAL_WRITE → REAL_READ on the remote."""
    return periodic.publish()


SYNC_SCHEDULES = {
    "pipeline: sync with the remote": "runner.tasks.sync_remote",
    "pipeline: publish results": "runner.tasks.publish_results",
}


def ensure_sync_schedules(*, sync_minutes: int = 5, publish_minutes: int = 10) -> list[tuple]:
    """The remote's periodic sync and publication, created once; none without a remote."""
    if configured_remote() is None:
        return []
    minutes = {"runner.tasks.sync_remote": sync_minutes, "runner.tasks.publish_results": publish_minutes}
    return [Schedule.objects.update_or_create(
        name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES,
                             "minutes": minutes[func], "repeats": -1})
            for name, func in SYNC_SCHEDULES.items()]
