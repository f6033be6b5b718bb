"""What every public page shares: the JSON twin, who sees pending items, pagination."""

from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import render

from repository.models import Status

PER_PAGE = 50


def wants_json(request) -> bool:
    return request.GET.get("format") == "json"


def respond(request, template: str, context: dict, payload):
    """The page, or with ``?format=json`` its twin: ``payload`` (built lazily when callable)."""
    if wants_json(request):
        return JsonResponse(payload() if callable(payload) else payload,
                            json_dumps_params={"indent": 1})
    return render(request, template, context)


def sees_pending(request) -> bool:
    """Items under review are the curators' business: everyone else sees approved items only."""
    return request.user.is_authenticated and request.user.is_staff


def visible_items(request, queryset):
    return queryset if sees_pending(request) else queryset.filter(status=Status.APPROVED)


def visible_outcomes(request, queryset):
    if sees_pending(request):
        return queryset
    return queryset.exclude(model__status=Status.PENDING)


def page_of(request, rows, per_page: int = PER_PAGE, parameter: str = "page"):
    """A Django Page of ``rows`` (a queryset or list): the item tables are small enough to count."""
    return Paginator(rows, per_page).get_page(request.GET.get(parameter))


def query_without(request, *names: str) -> str:
    """The request's query string without ``names`` (for links that change one parameter)."""
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


class ForTemplate:
    """A row as a template sees it, without its ``__getitem__``.

    A template's ``result.kim_id`` tries ``result["kim_id"]`` first, and ``TestResult[...]``
    (the seed's ``result["a"]``) reads the property values: one query per dotted lookup.
    """

    __slots__ = ("_row",)

    def __init__(self, row):
        object.__setattr__(self, "_row", row)

    def __getattr__(self, name):
        return getattr(self._row, name)


def for_template(rows) -> list:
    return [ForTemplate(row) for row in rows]
