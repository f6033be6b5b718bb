"""The queue's admin: jobs and builds, and the queue's actions on the item pages of repository."""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html_join

from repository.admin import ErrorAdmin, TestAdmin, VerificationCheckAdmin
from repository.admin import ModelAdmin as ItemModelAdmin
from runner.admin_actions import ERROR_ACTIONS, ITEM_ACTIONS, JOB_ACTIONS
from runner.models import Build, Job

# repository (what exists) does not import runner (how it runs), so the actions that queue
# work join the pages of the items that run from here. Read per request, so the order in
# which the two admin modules load does not matter; SimulatorModelAdmin inherits them.
for _item_admin in (TestAdmin, ItemModelAdmin, VerificationCheckAdmin):
    _item_admin.actions = (*_item_admin.actions, *ITEM_ACTIONS)
ErrorAdmin.actions = (*(ErrorAdmin.actions or ()), *ERROR_ACTIONS)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "runner_kim_id", "subject_kim_id", "state", "priority", "attempts",
                    "lease_owner", "outcome_kim_id", "created_at", "age")
    list_filter = ("state", "priority")
    search_fields = ("runner_kim_id", "subject_kim_id", "outcome_kim_id", "lease_owner", "reason")
    readonly_fields = ("runner_kim_id", "subject_kim_id", "state", "attempts", "lease_owner",
                       "lease_expires_at", "blocked_list", "outcome_kim_id", "last_error",
                       "created_at", "updated_at", "enqueued_at", "started_at", "finished_at",
                       "force", "reason")
    exclude = ("blocked_on",)
    actions = JOB_ACTIONS
    ordering = ("-created_at",)
    # The jobs table grows with every pair ever run: no COUNT(*) over it per page.
    show_full_result_count = False
    list_per_page = 100

    def has_add_permission(self, request):
        return False  # jobs are made by the pipeline (submit, the director), never by a form

    @admin.display(description="age")
    def age(self, job):
        end = job.finished_at or timezone.now()
        return str(end - (job.started_at or job.created_at)).split(".")[0]

    @admin.display(description="waiting on")
    def blocked_list(self, job):
        return format_html_join("", "<div>{}</div>", ((kim_id,) for kim_id in job.blocked_on)) \
            or "-"


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = ("kim_id", "status", "started_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("kim_id", "artifact")
    readonly_fields = ("kim_id", "content_hash", "status", "log", "owner", "artifact",
                       "started_at", "finished_at")
    ordering = ("-started_at",)

    def has_add_permission(self, request):
        return False  # builds are made by import, the scan and installitems
