"""``/browse/models``, ``/browse/tests`` (filters: species, driver, status) and ``/browse/results``."""

from django.db.models import Q

from public import matrix, serialize
from public.tests_reporting import tests_reporting_filter
from public.views.common import page_of, query_without, respond, visible_items
from repository import kimcodes
from repository.models import Model, Status, Test

MATRIX_TESTS, MATRIX_MODELS = 25, 20


def _filtered(request, kind):
    rows = visible_items(request, kind.objects.latest_versions().select_related("driver"))
    species = (request.GET.get("species") or "").strip()
    if species:
        rows = rows.with_species(species)
    driver = (request.GET.get("driver") or "").strip()
    if driver:
        if kimcodes.is_kim_code(driver):
            rows = rows.filter(driver__number=kimcodes.parse_kim_code(driver).number)
        else:
            rows = rows.filter(Q(driver__name__icontains=driver) | Q(driver__kim_id=driver))
    status = request.GET.get("status")
    if status in Status.values:
        rows = rows.filter(status=status)
    return rows.order_by("name", "number"), {"species": species, "driver": driver,
                                             "status": status or ""}


def _item_list(request, kind, title: str):
    rows, filters = _filtered(request, kind)
    shown = page_of(request, rows)
    context = {"title": title, "items": shown, "filters": filters, "statuses": Status.choices,
               "query_without_page": query_without(request, "page")}
    return respond(request, "public/browse.html", context, lambda: {
        "filters": filters, "items": [serialize.item(i) for i in shown],
        "page": serialize.page(shown)})


def models(request):
    return _item_list(request, Model, "Models")


def tests(request):
    return _item_list(request, Test, "Tests")


def results(request):
    """The tests × models matrix, paginated both ways (``tpage`` rows, ``mpage`` columns)."""
    species = (request.GET.get("species") or "").strip()
    property_name = (request.GET.get("property") or "").strip()
    tests_rows = visible_items(request, Test.objects.latest_versions()).order_by("name", "number")
    models_rows = visible_items(request, Model.objects.latest_versions()).order_by("name", "number")
    if species:
        tests_rows, models_rows = tests_rows.with_species(species), models_rows.with_species(species)
    if property_name:
        tests_rows = tests_rows.filter(tests_reporting_filter(property_name))
    test_page = page_of(request, tests_rows, MATRIX_TESTS, "tpage")
    model_page = page_of(request, models_rows, MATRIX_MODELS, "mpage")
    rows = matrix.grid(test_page, model_page)
    context = {"rows": rows, "models": model_page, "tests": test_page, "species": species,
               "property": property_name, "query_without_tpage": query_without(request, "tpage"),
               "query_without_mpage": query_without(request, "mpage")}
    return respond(request, "public/matrix.html", context, lambda: {
        "filters": {"species": species, "property": property_name},
        "models": [m.kim_id for m in model_page],
        "rows": [{"test": t.kim_id, "cells": [{"state": c.state, "url": c.url} for c in cells]}
                 for t, cells in rows],
        "tests_page": serialize.page(test_page), "models_page": serialize.page(model_page)})
