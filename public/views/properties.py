"""``/properties/<short-name>``: one property across models on one test, against reference data."""

from urllib.parse import urlencode

from django.http import Http404

from public import references, serialize, values
from public.tests_reporting import tests_reporting_filter
from public.views.common import page_of, query_without, respond, visible_items
from repository import kimcodes
from repository.models import Property, Test

TESTS_PER_PAGE, VALUES_PER_PAGE = 50, 100


def _identity(pairs) -> dict:
    """The identifying keys (species, structure) among a result's (key, value) pairs."""
    return {k: v for k, v in pairs if k in references.IDENTIFYING_KEYS}


def context_for(request, short_name: str) -> dict:
    definition = (Property.objects.filter(short_name=short_name).order_by("-version").first())
    reporting = visible_items(request, Test.objects.latest_versions()
                              .filter(tests_reporting_filter(short_name))).order_by("name", "number")
    # Thousands of tests may report a property: the page lists them a page at a time.
    tests = page_of(request, reporting, TESTS_PER_PAGE, "tpage")
    if definition is None and not tests.paginator.count:
        raise Http404(f"no property {short_name}")
    wanted = request.GET.get("test")
    if wanted and kimcodes.is_kim_code(wanted):
        test = reporting.filter(number=kimcodes.parse_kim_code(wanted).number).first()
    else:
        test = tests[0] if len(tests) else None
    key, points, rows, plot, keys, pairs = None, [], [], None, [], []
    if test is not None:
        pairs = dict(values.properties_of_test(test)).get(short_name, [])
        keys = [k for k, v in pairs if values.is_number(v) and k not in values.CONDITION_KEYS]
        key = values.main_key(pairs, request.GET.get("key"))
    if key:
        points = values.points_for_test(test, short_name, key)
        unit = points[0].unit if points else ""
        found = references.references_for(short_name, key, _identity(pairs), unit,
                                          species=test.species)
        reference = found[0][1].value if found else None
        for point in sorted(points, key=lambda p: p.value):
            deviation = point.value - reference if reference is not None else None
            percent = 100 * deviation / reference if reference else None
            rows.append({"point": point, "deviation": deviation, "percent": percent})
        plot = f"/plots/property/{short_name}.svg?" + urlencode({"test": test.kim_id, "key": key})
    else:
        found = []
    return {"short_name": short_name, "definition": definition, "tests": tests, "test": test,
            "key": key, "keys": keys, "rows": rows, "plot": plot,
            "references": [datum for datum, _ in found], "reference_values": [r for _, r in found]}


def property_page(request, short_name: str):
    context = context_for(request, short_name)
    shown = page_of(request, context["rows"], VALUES_PER_PAGE)
    context.update(shown=shown, query_without_tpage=query_without(request, "tpage"),
                   query_without_page=query_without(request, "page"))
    return respond(request, "public/property.html", context, lambda: {
        "property": short_name,
        "property_id": context["definition"].property_id if context["definition"] else None,
        "tests": [t.kim_id for t in context["tests"]], "tests_page": serialize.page(context["tests"]),
        "test": context["test"].kim_id if context["test"] else None, "key": context["key"],
        "references": [{"kim_id": d.kim_id, "value": r.value, "uncertainty": r.uncertainty}
                       for d, r in zip(context["references"], context["reference_values"], strict=True)],
        "values": [{"model": r["point"].model_kim_id, "result": r["point"].result_kim_id,
                    "value": r["point"].value, "unit": r["point"].unit,
                    "deviation": r["deviation"], "percent": r["percent"]} for r in shown],
        "page": serialize.page(shown),
    })

