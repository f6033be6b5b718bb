"""The curator's admin over KIM items and results: lists that cost a fixed number of queries, machine-written fields read-only.

The queue's actions (run all matching, re-run, approve, cancel) on the items that run are
attached by ``runner/admin.py``: what exists does not know how it runs.
"""

from types import SimpleNamespace

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.html import format_html

from repository import dependencies, kimcodes
from repository.errors import InvalidKIMID, PipelineDependencyError
from repository.importer import checks as importer_checks
from repository.models import (
    RUNNER_FIELDS,
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
)


def admin_link(obj, label=None):
    """A link to ``obj``'s change page (empty text for None)."""
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or obj)


class SpeciesFilter(admin.SimpleListFilter):
    """Items that list one chemical symbol in their species (a JSON list)."""

    title = "species"
    parameter_name = "species"

    def lookups(self, request, model_admin):
        # One query for the whole list of choices, whatever the number of rows.
        symbols = set()
        for species in model_admin.model.objects.values_list("species", flat=True):
            symbols.update(s for s in species or [] if isinstance(s, str))
        return [(s, s) for s in sorted(symbols)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.with_species(self.value())
        return queryset


class LatestVersionFilter(admin.SimpleListFilter):
    """Only the latest version of each lineage, or only the superseded ones."""

    title = "latest version"
    parameter_name = "latest"

    def lookups(self, request, model_admin):
        return [("yes", "yes"), ("no", "no")]

    def queryset(self, request, queryset):
        latest = queryset.model.objects.latest_versions().values("pk")
        if self.value() == "yes":
            return queryset.filter(pk__in=latest)
        if self.value() == "no":
            return queryset.exclude(pk__in=latest)
        return queryset


class LatestPerPairFilter(admin.SimpleListFilter):
    """Only the latest result of each (runner lineage, subject lineage) pair in this table."""

    title = "latest of its pair"
    parameter_name = "latest"

    def lookups(self, request, model_admin):
        return [("yes", "yes"), ("no", "no")]

    def queryset(self, request, queryset):
        latest = queryset.model.objects.latest_per_pair().values("pk")
        if self.value() == "yes":
            return queryset.filter(pk__in=latest)
        if self.value() == "no":
            return queryset.exclude(pk__in=latest)
        return queryset


class KIMItemForm(forms.ModelForm):
    """Refuses a malformed KIM ID, or one of another kind, as a form error (not a server error)."""

    def clean_kim_id(self):
        text = self.cleaned_data["kim_id"]
        leaders = self._meta.model.leaders or None
        try:
            return str(kimcodes.parse_kim_code(text, leader=leaders, require_version=True))
        except InvalidKIMID as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_timeout(self):
        """Tests and checks: refuse a timeout the cluster would cut short, as the importer does."""
        value = self.cleaned_data.get("timeout")
        longest, job_timeout, margin = importer_checks.allowed_timeout()
        if value is not None and value > longest:
            raise forms.ValidationError(
                f"timeout {value} s is more than the cluster allows: JOB_TIMEOUT is "
                f"{job_timeout} s, less a margin of {margin} s leaves {longest} s")
        return value


class TestForm(KIMItemForm):
    """Also refuses upstream tests that would close a dependency cycle (or chain too deep)."""

    def clean(self):
        cleaned = super().clean()
        kim_id, upstream = cleaned.get("kim_id") or self.instance.kim_id, cleaned.get("depends_on")
        if not kim_id or upstream is None:
            return cleaned  # the KIM ID's own error is already on the form
        code = kimcodes.parse_kim_code(kim_id)
        # The test as this form would save it: its lineage, with the upstream chosen here.
        edited = SimpleNamespace(pk=None, number=code.number, kim_id=kim_id)
        chosen = list(Test.objects.filter(number__in={t.number for t in upstream})
                      .latest_versions())

        def upstream_of(test):
            return chosen if test.number == code.number else test.latest_upstream()

        try:
            dependencies.check_graph(edited, upstream_of,
                                     bound=settings.PIPELINE_MAX_DEPENDENCY_DEPTH)
        except PipelineDependencyError as exc:
            raise forms.ValidationError({"depends_on": str(exc)}) from exc
        return cleaned


class KIMItemAdmin(admin.ModelAdmin):
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
        """An item's KIM ID (full or partial) is found by its parts, exactly; other text as Django does."""
        term = search_term.strip()
        if kimcodes.is_kim_code(term) and kimcodes.parse_kim_code(term).leader in self.model.leaders:
            return queryset.matching_code(term), False
        return super().get_search_results(request, queryset, search_term)

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
class ModelAdmin(KIMItemAdmin):
    list_display = ("kim_id", "title", "kind", "driver_link", "species", "version", "is_latest",
                    "status", "collection", "updated_at")
    list_filter = ("kind", "status", SpeciesFilter, LatestVersionFilter, "source_format",
                   "collection")
    list_select_related = ("driver",)
    autocomplete_fields = ("driver",)
    extra_readonly = ("kind", "collection")

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


class OutcomeAdmin(admin.ModelAdmin):
    """Results and errors: written by the pipeline; a curator only marks them stale."""

    def get_search_results(self, request, queryset, search_term):
        """A KIM ID is found exactly, through the indexed columns that hold it.

        Django's search is ``LIKE '%…%'`` over every search field: a scan of a million rows,
        joined to the item tables. A result ID is matched on ``kim_id``; a test's or check's
        ID on the runner lineage (and version, if given); a model's on the subject's. Other
        text (an error message, part of a name) is searched as Django does.
        """
        term = search_term.strip()
        if not kimcodes.is_kim_code(term):
            return super().get_search_results(request, queryset, search_term)
        code = kimcodes.parse_kim_code(term)
        runner_leaders = {RUNNER_FIELDS[f] for f in self.model.runner_fields}
        if code.leader in self.model.leaders:
            return queryset.matching_code(str(code.with_name(None))), False
        if code.leader in runner_leaders:
            side = "runner"
        elif code.leader in Model.leaders:
            side = "subject"
        else:
            side = None  # an ID of a kind this table's rows are not about
        match = Q(pk__in=[])
        if side is not None:
            match = Q(**{f"{side}_number": code.number})
            if code.version is not None:
                match &= Q(**{f"{side}_version": code.version})
        if code.name is not None and code.version is not None and hasattr(self.model, "built_item"):
            match |= Q(built_item=str(code))  # the error of that item's build
        return queryset.filter(match), False

    show_full_result_count = False
    list_per_page = 100
    date_hierarchy = "created_at"
    list_filter = (LatestPerPairFilter, "stale")
    search_fields = ("kim_id", "model__kim_id")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in ("id", "stale")]

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
    list_filter = ("grade", LatestPerPairFilter, "stale")
    list_select_related = ("verification_check", "model")
    search_fields = ("kim_id", "verification_check__kim_id", "model__kim_id")


@admin.register(Error)
class ErrorAdmin(OutcomeAdmin):
    list_display = ("kim_id", "category", "runner_link", "model_link", "built_item", "short_message",
                    "created_at", "stale")
    list_filter = ("category", LatestPerPairFilter, "stale")
    list_select_related = ("test", "verification_check", "model")
    search_fields = ("kim_id", "test__kim_id", "verification_check__kim_id", "model__kim_id",
                     "built_item", "message")

    @admin.display(description="message")
    def short_message(self, obj):
        first_line = (obj.message or "").strip().splitlines()[:1]
        text = first_line[0] if first_line else ""
        return text if len(text) <= 100 else text[:99] + "…"


@admin.register(PropertyValue)
class PropertyValueAdmin(admin.ModelAdmin):
    list_display = ("result_link", "instance", "property_name", "key", "value", "unit")
    list_filter = ("property_name",)
    search_fields = ("result__kim_id", "property_name", "key")
    list_select_related = ("result",)
    show_full_result_count = False
    readonly_fields = ("result", "instance", "property_id", "property_name", "key", "value", "unit")

    def has_add_permission(self, request):
        return False

    @admin.display(description="test result", ordering="result__kim_id")
    def result_link(self, obj):
        return admin_link(obj.result)


@admin.register(MatchVerdict)
class MatchVerdictAdmin(admin.ModelAdmin):
    list_display = ("runner_kim_id", "model_kim_id", "accepted", "reason", "checked_at")
    list_filter = ("accepted",)
    search_fields = ("runner_kim_id", "model_kim_id", "reason")
    readonly_fields = ("runner_kim_id", "model_kim_id", "accepted", "reason", "checked_at")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # written by repository.matching
