"""Admin actions over items and jobs: plain functions, each reporting what it queued.

``ITEM_ACTIONS`` join the item pages of ``repository/admin.py`` (attached by ``runner/admin.py``);
``JOB_ACTIONS`` are for Jobs.
"""

from django.contrib import admin, messages
from django.db.models import Q

from repository.errors import PipelineError
from repository.models import Model, kim_obj
from runner import director, jobs
from runner.models import Job


def _report_each(modeladmin, request, queryset, decide) -> None:
    made, notes, errors = [], [], []
    for item in queryset:
        try:
            report = decide(item)
        except PipelineError as exc:
            errors.append(str(exc))
            continue
        made += report.jobs
        notes += report.notes
    queued = sum(1 for job in made if job.state == Job.State.QUEUED)
    text = (f"{len(made)} jobs for {len(queryset)} items: {queued} queued, "
            f"{len(made) - queued} waiting for upstream results")
    modeladmin.message_user(request, "; ".join([text, *notes]), messages.SUCCESS)
    for error in errors:
        modeladmin.message_user(request, error, messages.ERROR)


@admin.action(description="Run against everything matching (pairs without a current result)")
def run_all_matching(modeladmin, request, queryset):
    _report_each(modeladmin, request, queryset, lambda item: director.on_item_changed(
        item, reason=f"curator {request.user}: run all matching {item.kim_id}"))


@admin.action(description="Re-run everything matching, even pairs with a current result")
def rerun(modeladmin, request, queryset):
    _report_each(modeladmin, request, queryset, lambda item: director.on_item_changed(
        item, force=True, reason=f"curator {request.user}: re-run {item.kim_id}"))


@admin.action(description="Approve (verification checks first), then run every matching test")
def approve(modeladmin, request, queryset):
    approved, held, made = [], [], 0
    for item in queryset:
        if not isinstance(item, Model):
            modeladmin.message_user(request, f"{item.kim_id}: only models are approved here",
                                    messages.WARNING)
            continue
        ok, report = director.approve_model(item)
        (approved if ok else held).append(item.kim_id)
        made += len(report.jobs)
    if approved:
        modeladmin.message_user(request, f"approved {', '.join(approved)}", messages.SUCCESS)
    if held:
        modeladmin.message_user(
            request, f"still pending until their verification checks finish: {', '.join(held)}",
            messages.WARNING)
    modeladmin.message_user(request, f"{made} jobs queued", messages.INFO)


@admin.action(description="Cancel this item's jobs that have not started")
def cancel(modeladmin, request, queryset):
    ids = [item.kim_id for item in queryset]
    count = jobs.cancel(Job.objects.filter(Q(runner_kim_id__in=ids) | Q(subject_kim_id__in=ids)))
    modeladmin.message_user(request, f"cancelled {count} jobs (running ones finish)",
                            messages.SUCCESS)


@admin.action(description="Cancel the selected jobs that have not started")
def cancel_jobs(modeladmin, request, queryset):
    count = jobs.cancel(queryset)
    modeladmin.message_user(request, f"cancelled {count} jobs (running ones finish)",
                            messages.SUCCESS)


@admin.action(description="Run the selected pairs again")
def rerun_jobs(modeladmin, request, queryset):
    pairs = [(kim_obj(job.runner_kim_id), Model.objects.get(kim_id=job.subject_kim_id))
             for job in queryset.exclude(state__in=Job.ACTIVE_STATES)]
    report = director.submit_pairs(pairs, force=True,
                                   reason=f"curator {request.user}: re-run pairs")
    modeladmin.message_user(request, f"re-run: {report}", messages.SUCCESS)


ITEM_ACTIONS = (run_all_matching, rerun, approve, cancel)
JOB_ACTIONS = (rerun_jobs, cancel_jobs)
