"""Admin actions over items and jobs: plain functions, each reporting what it queued.

``ITEM_ACTIONS`` join the item pages of ``repository/admin.py`` (attached by ``runner/admin.py``);
``JOB_ACTIONS`` are for Jobs, ``ERROR_ACTIONS`` join the Error page. An action that did nothing
says why, as a warning.
"""

from collections import Counter

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q
from django.template.response import TemplateResponse

from repository.errors import PipelineError
from repository.models import Model, Test, VerificationCheck, kim_obj
from runner import director, jobs
from runner.director import approval
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


@admin.action(description="Run against everything matching (pairs without a current result)", permissions=["change"])
def run_all_matching(modeladmin, request, queryset):
    _report_each(modeladmin, request, queryset, lambda item: director.on_item_changed(
        item, reason=f"curator {request.user}: run all matching {item.kim_id}"))


@admin.action(description="Re-run everything matching, even pairs with a current result", permissions=["change"])
def rerun(modeladmin, request, queryset):
    _report_each(modeladmin, request, queryset, lambda item: director.on_item_changed(
        item, force=True, reason=f"curator {request.user}: re-run {item.kim_id}"))


@admin.action(description="Approve (verification checks first), then run every matching test", permissions=["change"])
def approve(modeladmin, request, queryset):
    """Approve on the checks' grades; a model held by a mandatory check gets the override form
    (the curator's reason), whose answer comes back here with ``override``."""
    override, reason = request.POST.get("override") == "yes", request.POST.get("reason", "")
    approved, held, refused, made = [], [], [], 0
    for item in queryset:
        if not isinstance(item, Model):
            modeladmin.message_user(request, f"{item.kim_id}: only models are approved here",
                                    messages.WARNING)
            continue
        try:
            outcome = approval.approve(item, curator=request.user.get_username(),
                                       override=override, reason=reason)
        except PipelineError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
            continue
        if outcome.approved:
            approved.append(item.kim_id + (" (override)" if outcome.blocking else ""))
        elif outcome.blocking:
            refused.append((item, outcome.blocking))
        else:
            held.append(item.kim_id)
        made += len(outcome.report.jobs)
    if approved:
        modeladmin.message_user(request, f"approved {', '.join(approved)}", messages.SUCCESS)
    if held:
        modeladmin.message_user(
            request, f"still pending until their verification checks finish: {', '.join(held)}",
            messages.WARNING)
    modeladmin.message_user(request, f"{made} jobs queued", messages.INFO)
    if refused:
        return TemplateResponse(request, "admin/approve_override.html", {
            **modeladmin.admin_site.each_context(request), "title": "Approve over failed checks?",
            "opts": modeladmin.model._meta, "refused": refused,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME})
    return None


def _report_cancel(modeladmin, request, selected, count: int) -> None:
    """A cancel that did nothing says why, as a warning: what the jobs were doing instead."""
    if count:
        modeladmin.message_user(request, f"cancelled {count} jobs (running ones finish)",
                                messages.SUCCESS)
        return
    states = Counter(selected.values_list("state", flat=True))
    left = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "no jobs"
    modeladmin.message_user(request, f"nothing cancelled: only jobs that have not started can "
                                     f"be cancelled, and these are {left}", messages.WARNING)


@admin.action(description="Cancel this item's jobs that have not started", permissions=["change"])
def cancel(modeladmin, request, queryset):
    ids = [item.kim_id for item in queryset]
    selected = Job.objects.filter(Q(runner_kim_id__in=ids) | Q(subject_kim_id__in=ids))
    _report_cancel(modeladmin, request, selected, jobs.cancel(selected))


@admin.action(description="Cancel the selected jobs that have not started", permissions=["change"])
def cancel_jobs(modeladmin, request, queryset):
    _report_cancel(modeladmin, request, queryset, jobs.cancel(queryset))


def _rerun(modeladmin, request, named: list[tuple[str, str]], reason: str) -> None:
    """Re-run (runner ID, model ID) pairs; the ones that name nothing runnable are said."""
    pairs, unknown = [], []
    for runner_kim_id, model_kim_id in named:
        try:
            runner_item, model = kim_obj(runner_kim_id), kim_obj(model_kim_id)
        except PipelineError as exc:
            unknown.append(f"{runner_kim_id} × {model_kim_id}: {exc}")
            continue
        if isinstance(runner_item, (Test, VerificationCheck)) and isinstance(model, Model):
            pairs.append((runner_item, model))
        else:
            unknown.append(f"{runner_kim_id} × {model_kim_id}: not a runner and a model")
    report = director.submit_pairs(pairs, force=True, reason=reason) if pairs else None
    if report is not None and report.jobs:
        modeladmin.message_user(request, f"re-run: {report}", messages.SUCCESS)
    elif report is not None:
        modeladmin.message_user(request, f"nothing queued: {report}", messages.WARNING)
    for text in unknown:
        modeladmin.message_user(request, f"not re-run: {text}", messages.WARNING)


@admin.action(description="Run the selected pairs again", permissions=["change"])
def rerun_jobs(modeladmin, request, queryset):
    live = queryset.filter(state__in=Job.ACTIVE_STATES).count()
    if live:
        modeladmin.message_user(request, f"{live} selected jobs are still waiting, queued or "
                                         "running: not re-run", messages.WARNING)
    named = list(queryset.exclude(state__in=Job.ACTIVE_STATES)
                 .values_list("runner_kim_id", "subject_kim_id"))
    if named:
        _rerun(modeladmin, request, named, f"curator {request.user}: re-run pairs")


@admin.action(description="Re-run the pairs of the selected errors", permissions=["change"])
def rerun_errors(modeladmin, request, queryset):
    builds = queryset.filter(test__isnull=True, verification_check__isnull=True).count()
    if builds:
        modeladmin.message_user(request, f"{builds} selected errors are failed builds, which "
                                         "belong to no pair: rebuild with installitems --rebuild",
                                messages.WARNING)
    named = [(error.runner.kim_id, error.model.kim_id) for error in
             queryset.select_related("test", "verification_check", "model")
             if error.runner is not None and error.model is not None]
    if named:
        _rerun(modeladmin, request, sorted(set(named)), f"curator {request.user}: re-run errors")


ITEM_ACTIONS = (run_all_matching, rerun, approve, cancel)
JOB_ACTIONS = (rerun_jobs, cancel_jobs)
ERROR_ACTIONS = (rerun_errors,)
