"""What a curator asks the admin: list filters, item forms and the exact search for KIM IDs."""

from types import SimpleNamespace

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Q
from django.utils.functional import cached_property

from repository import dependencies, kimcodes
from repository.errors import InvalidKIMID, PipelineDependencyError
from repository.importer import checks as importer_checks
from repository.models import RUNNER_FIELDS, Model, Property, Test

#: Pages after the one shown that the paginator looks ahead to (its "count" stops there).
LOOKAHEAD_PAGES = 5


class NoCountPaginator(Paginator):
    """Pages of a big table without ``COUNT(*)`` over it: rows are counted only up to a few
    pages past the page asked for (one bounded query), so page 1 of a million rows costs what
    page 1 of a thousand does. The admin's total reads "at least" (pagination template).
    """

    def __init__(self, object_list, per_page, *, page_number=1, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.page_number = max(1, page_number)

    @cached_property
    def count(self) -> int:
        offset = (self.page_number - 1) * self.per_page
        window = self.object_list[offset:offset + self.per_page * LOOKAHEAD_PAGES + 1]
        return offset + window.count()

    @property
    def at_end(self) -> bool:
        """Whether the rows end within the look-ahead (so ``count`` is exact)."""
        return self.count <= (self.page_number - 1 + LOOKAHEAD_PAGES) * self.per_page


def page_number_of(request) -> int:
    try:
        return int(request.GET.get("p", 1))
    except ValueError:
        return 1


def species_choices(model) -> list[tuple[str, str]]:
    """The chemical symbols an item table's rows list: one query over its distinct species lists
    (item tables hold thousands of rows; the outcome tables are never read for this)."""
    symbols = set()
    for species in model.objects.order_by().values_list("species", flat=True).distinct():
        symbols.update(s for s in species or [] if isinstance(s, str))
    return [(s, s) for s in sorted(symbols)]


class SpeciesFilter(admin.SimpleListFilter):
    """Items that list one chemical symbol in their species (a JSON list)."""

    title = "species"
    parameter_name = "species"

    def lookups(self, request, model_admin):
        return species_choices(model_admin.model)

    def queryset(self, request, queryset):
        if self.value():
            return queryset.with_species(self.value())
        return queryset


class OutcomeSpeciesFilter(admin.SimpleListFilter):
    """Results of models that list one symbol: choices and filter from the (small) model table,
    never from the outcome rows (a million of them)."""

    title = "model species"
    parameter_name = "species"

    def lookups(self, request, model_admin):
        return species_choices(Model)

    def queryset(self, request, queryset):
        if self.value():
            # The ids first (a few hundred models): with_species is not usable as a subquery
            # on SQLite (its json_each names the outer table).
            models = list(Model.objects.with_species(self.value()).values_list("pk", flat=True))
            return queryset.filter(model__in=models)
        return queryset


class PropertyNameFilter(admin.SimpleListFilter):
    """Property values of one property: choices from the Property items, not DISTINCT over values."""

    title = "property"
    parameter_name = "property"

    def lookups(self, request, model_admin):
        names = Property.objects.exclude(short_name="").order_by("short_name")
        return [(n, n) for n in names.values_list("short_name", flat=True).distinct()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(property_name=self.value())
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
    """The pair's current outcome, its latest (perhaps stale or of older versions), or neither.

    The definitions are repository.models.current's: results and errors of a pair compete.
    """

    title = "outcome of its pair"
    parameter_name = "latest"

    def lookups(self, request, model_admin):
        return [("current", "current"), ("yes", "latest"), ("no", "superseded")]

    def queryset(self, request, queryset):
        if self.value() == "current":
            return queryset.filter(pk__in=queryset.model.objects.current().values("pk"))
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


def item_search(queryset, search_term: str):
    """An item's KIM ID (full or partial) found by its parts, exactly; None for other text."""
    term = search_term.strip()
    if kimcodes.is_kim_code(term) and kimcodes.parse_kim_code(term).leader in queryset.model.leaders:
        return queryset.matching_code(term)
    return None


def outcome_search(queryset, search_term: str):
    """Results or errors a KIM ID names, found exactly, through the indexed columns that hold it.

    Django's search is ``LIKE '%…%'`` over every search field: a scan of a million rows,
    joined to the item tables. A result ID is matched on ``kim_id``; a test's or check's
    ID on the runner lineage (and version, if given); a model's on the subject's. Other
    text (an error message, part of a name): None, for Django's own search.
    """
    term = search_term.strip()
    if not kimcodes.is_kim_code(term):
        return None
    code = kimcodes.parse_kim_code(term)
    runner_leaders = {RUNNER_FIELDS[f] for f in queryset.model.runner_fields}
    if code.leader in queryset.model.leaders:
        return queryset.matching_code(str(code.with_name(None)))
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
    if code.name is not None and code.version is not None and hasattr(queryset.model, "built_item"):
        match |= Q(built_item=str(code))  # the error of that item's build
    return queryset.filter(match)
