"""The curator's admin over KIM items and results: lists that cost a fixed number of queries, machine-written fields read-only.

The queue's actions (run all matching, re-run, approve, cancel) on the items that run are
attached by ``runner/admin.py``: what exists does not know how it runs.
"""

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from kimsite import config
from repository.admin_grades import ApprovalDecisionInline, VerificationGradesMixin
from repository.admin_lookups import (
    KIMItemForm,
    LatestPerPairFilter,
    LatestVersionFilter,
    NoCountPaginator,
    OutcomeSpeciesFilter,
    PropertyNameFilter,
    SpeciesFilter,
    TestForm,
    item_search,
    outcome_search,
    page_number_of,
)
from repository.errors import PipelineError
from repository.models import (
    ApprovalDecision,
    Error,
    MatchVerdict,
    Model,
    ModelDriver,
    Property,
    PropertyValue,
    ReferenceDatum,
    SimulatorModel,
    Test,
    TestDriver,
    TestResult,
    VerificationCheck,
    VerificationResult,
    WorkerEnvironment,
    kim_obj,
)

#: Characters of stdout, stderr and kim.log shown on a result's admin page.
OUTPUT_HEAD_CHARS = 10_000


class ChangeOnlyActions:
    """Actions (queue, approve, re-run, cancel) only for users who may change the rows: the
    ``viewer`` group reads the admin and runs nothing. Deleting keeps Django's own check."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            actions = {name: a for name, a in actions.items() if name == "delete_selected"}
        return actions


class BigTableAdmin(admin.ModelAdmin):
    """A table that grows with every run: no COUNT(*) per page, no date hierarchy scan."""

    show_full_result_count = False
    list_per_page = 100

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return NoCountPaginator(queryset, per_page, orphans=orphans,
                                allow_empty_first_page=allow_empty_first_page,
                                page_number=page_number_of(request))


def admin_link(obj, label=None):
    """A link to ``obj``'s change page (empty text for None)."""
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or obj)


class KIMItemAdmin(ChangeOnlyActions, admin.ModelAdmin):
    """Shared by every kind of item; subclasses add their own columns and filters."""

    form = KIMItemForm

    list_display = ("kim_id", "title", "version", "is_latest", "status", "source_format",
                    "updated_at")
    list_filter = ("status", SpeciesFilter, LatestVersionFilter, "source_format")
    search_fields = ("kim_id", "title")
    list_per_page = 100
    machine_fields = ("name", "leader", "number", "version", "metadata", "source_format",
                      "content_hash", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        # The KIM ID names the folder: fixed once the row exists.
        return (("kim_id",) if obj else ()) + self.machine_fields + tuple(self.extra_readonly)

    extra_readonly: tuple[str, ...] = ()

    def get_search_results(self, request, queryset, search_term):
        found = item_search(queryset, search_term)
        if found is None:
            return super().get_search_results(request, queryset, search_term)
        return found, False

    def get_queryset(self, request):
        newer = self.model.objects.filter(number=OuterRef("number"), leader=OuterRef("leader"),
                                          version__gt=OuterRef("version"))
        return super().get_queryset(request).annotate(has_newer=Exists(newer))

    @admin.display(boolean=True, description="latest", ordering="has_newer")
    def is_latest(self, obj):
        return not getattr(obj, "has_newer", False)


@admin.register(TestDriver)
class TestDriverAdmin(KIMItemAdmin):
    extra_readonly = ("executables",)


@admin.register(Test)
class TestAdmin(KIMItemAdmin):
    list_display = ("kim_id", "title", "driver_link", "species", "version", "is_latest",
                    "status", "source_format", "updated_at")
    list_select_related = ("driver",)
    form = TestForm
    autocomplete_fields = ("driver", "depends_on")

    @admin.display(description="test driver", ordering="driver__kim_id")
    def driver_link(self, obj):
        return admin_link(obj.driver)


@admin.register(ModelDriver)
class ModelDriverAdmin(KIMItemAdmin):
    extra_readonly = ("collection",)


@admin.register(Model)
class ModelAdmin(VerificationGradesMixin, KIMItemAdmin):
    list_display = ("kim_id", "title", "kind", "driver_link", "species", "version", "is_latest",
                    "status", "collection", "updated_at")
    list_filter = ("kind", "status", SpeciesFilter, LatestVersionFilter, "source_format",
                   "collection")
    list_select_related = ("driver",)
    autocomplete_fields = ("driver",)
    extra_readonly = ("kind", "collection", "verification_grades")
    inlines = (ApprovalDecisionInline,)

    @admin.display(description="model driver", ordering="driver__kim_id")
    def driver_link(self, obj):
        return admin_link(obj.driver)


@admin.register(SimulatorModel)
class SimulatorModelAdmin(ModelAdmin):
    list_filter = ("status", SpeciesFilter, LatestVersionFilter, "simulator_name")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(kind=Model.Kind.SIMULATOR)


@admin.register(Property)
class PropertyAdmin(KIMItemAdmin):
    list_display = ("kim_id", "short_name", "property_id", "version", "is_latest", "updated_at")
    list_filter = (LatestVersionFilter, "source_format")
    search_fields = ("kim_id", "title", "short_name", "property_id")
    extra_readonly = ("definition",)


@admin.register(ReferenceDatum)
class ReferenceDatumAdmin(KIMItemAdmin):
    list_display = ("kim_id", "title", "property_link", "species", "version", "is_latest",
                    "updated_at")
    list_select_related = ("property",)
    autocomplete_fields = ("property",)
    extra_readonly = ("data",)

    @admin.display(description="property", ordering="property__short_name")
    def property_link(self, obj):
        return admin_link(obj.property, obj.property and obj.property.short_name)


@admin.register(VerificationCheck)
class VerificationCheckAdmin(KIMItemAdmin):
    list_display = ("kim_id", "title", "category", "graded", "version", "is_latest", "status",
                    "updated_at")
    list_filter = ("category", "graded", "status", LatestVersionFilter, "source_format")


@admin.register(WorkerEnvironment)
class WorkerEnvironmentAdmin(admin.ModelAdmin):
    list_display = ("host", "os", "python_version", "kim_api_version", "kimpy_version",
                    "pipeline_version", "first_seen")
    list_filter = ("kim_api_version", "pipeline_version")
    search_fields = ("host", "os", "pipeline_version")
    readonly_fields = ("host", "os", "python_version", "kim_api_version", "kimpy_version",
                       "pipeline_version", "first_seen")

    def has_add_permission(self, request):
        return False  # rows are written by workers


def _output_head(path) -> str:
    if not path.is_file():
        return ""
    with open(path, "rb") as handle:
        return handle.read(OUTPUT_HEAD_CHARS * 4).decode(errors="replace")[:OUTPUT_HEAD_CHARS]


def _cell(value):
    if isinstance(value, dict):
        return format_html_join("", "<div>{}: {}</div>", ((k, _cell(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None else value


class OutcomeAdmin(ChangeOnlyActions, BigTableAdmin):
    """Results and errors: written by the pipeline; a curator only marks them stale.

    The change page links the runner, the model and the upstream results, shows provenance as
    a table and the outputs escaped (never as HTML), each cut at OUTPUT_HEAD_CHARS.
    """

    detail_fields = ("runner_link", "model_link", "upstream_links", "provenance_table",
                     "stdout_head", "stderr_head", "kimlog_head")

    def get_search_results(self, request, queryset, search_term):
        found = outcome_search(queryset, search_term)
        if found is None:
            return super().get_search_results(request, queryset, search_term)
        return found, False

    # No date_hierarchy: its year links are a DISTINCT over every row's created_at.
    list_filter = (LatestPerPairFilter, OutcomeSpeciesFilter, "stale", "created_at")
    search_fields = ("kim_id", "model__kim_id")

    def get_readonly_fields(self, request, obj=None):
        # provenance is shown as provenance_table, not as raw JSON.
        fields = [f.name for f in self.model._meta.fields
                  if f.name not in ("id", "stale", "provenance")]
        return [*fields, *self.detail_fields]

    @admin.display(description="upstream results")
    def upstream_links(self, obj):
        links = []
        for text in (obj.provenance or {}).get("upstream-results", []):
            try:
                links.append(admin_link(kim_obj(str(text))))
            except PipelineError:
                links.append(format_html("{}", text))  # not a KIM ID, or gone
        return format_html_join(", ", "{}", ((link,) for link in links)) or "-"

    @admin.display(description="provenance")
    def provenance_table(self, obj):
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>",
                                ((k, _cell(v)) for k, v in (obj.provenance or {}).items()
                                 if k != "upstream-results"))
        return format_html("<table>{}</table>", rows) if rows else "-"

    def _output(self, obj, name):
        text = _output_head(obj.path / name)
        if not text:
            return "-"
        # The public page serves the whole file (only files inside the result's folder).
        whole = format_html('<a href="/id/{}/files/{}">the whole file</a>', obj.kim_id, name)
        return format_html('<pre style="max-height:20rem;overflow:auto">{}</pre>{}', text, whole)

    @admin.display(description="stdout")
    def stdout_head(self, obj):
        return self._output(obj, config.STDOUT_FILE)

    @admin.display(description="stderr")
    def stderr_head(self, obj):
        return self._output(obj, config.STDERR_FILE)

    @admin.display(description="kim.log")
    def kimlog_head(self, obj):
        return self._output(obj, config.KIM_LOG_FILE)

    def has_add_permission(self, request):
        return False  # results come from runs, never from a form

    @admin.display(description="model", ordering="model__kim_id")
    def model_link(self, obj):
        return admin_link(obj.model)

    @admin.display(description="runner")
    def runner_link(self, obj):
        return admin_link(obj.runner)


class PropertyValueInline(admin.TabularInline):
    model = PropertyValue
    extra = 0
    can_delete = False
    fields = ("instance", "property_name", "key", "value", "unit")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(TestResult)
class TestResultAdmin(OutcomeAdmin):
    list_display = ("kim_id", "runner_link", "model_link", "created_at", "runtime", "stale")
    list_select_related = ("test", "model")
    search_fields = ("kim_id", "test__kim_id", "model__kim_id")
    inlines = (PropertyValueInline,)


@admin.register(VerificationResult)
class VerificationResultAdmin(OutcomeAdmin):
    list_display = ("kim_id", "runner_link", "model_link", "grade", "created_at", "stale")
    list_filter = ("grade", LatestPerPairFilter, OutcomeSpeciesFilter, "stale")
    list_select_related = ("verification_check", "model")
    search_fields = ("kim_id", "verification_check__kim_id", "model__kim_id")


@admin.register(Error)
class ErrorAdmin(OutcomeAdmin):
    list_display = ("kim_id", "category", "runner_link", "model_link", "built_item", "short_message",
                    "created_at", "stale")
    list_filter = ("category", LatestPerPairFilter, OutcomeSpeciesFilter, "stale")
    list_select_related = ("test", "verification_check", "model")
    search_fields = ("kim_id", "test__kim_id", "verification_check__kim_id", "model__kim_id",
                     "built_item", "message")

    @admin.display(description="message")
    def short_message(self, obj):
        first_line = (obj.message or "").strip().splitlines()[:1]
        text = first_line[0] if first_line else ""
        return text if len(text) <= 100 else text[:99] + "…"


@admin.register(PropertyValue)
class PropertyValueAdmin(BigTableAdmin):
    list_display = ("result_link", "instance", "property_name", "key", "value", "unit")
    list_filter = (PropertyNameFilter,)
    search_fields = ("result__kim_id", "property_name", "key")
    list_select_related = ("result",)
    readonly_fields = ("result", "instance", "property_id", "property_name", "key", "value", "unit")

    def has_add_permission(self, request):
        return False

    @admin.display(description="test result", ordering="result__kim_id")
    def result_link(self, obj):
        return admin_link(obj.result)


@admin.register(MatchVerdict)
class MatchVerdictAdmin(BigTableAdmin):
    list_display = ("runner_kim_id", "model_kim_id", "accepted", "reason", "checked_at")
    list_filter = ("accepted",)
    search_fields = ("runner_kim_id", "model_kim_id", "reason")
    readonly_fields = ("runner_kim_id", "model_kim_id", "accepted", "reason", "checked_at")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # written by repository.matching


@admin.register(ApprovalDecision)
class ApprovalDecisionAdmin(admin.ModelAdmin):
    """Who approved which model, on what grades, and why when overriding: a record, never edited."""

    list_display = ("model_link", "curator", "decided_at", "override", "reason")
    list_filter = ("override",)
    list_select_related = ("model",)
    search_fields = ("model__kim_id", "curator", "reason")
    readonly_fields = ("model", "curator", "decided_at", "override", "reason", "grades")

    def has_add_permission(self, request):
        return False  # written by the approval action

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="model", ordering="model__kim_id")
    def model_link(self, obj):
        return admin_link(obj.model)
