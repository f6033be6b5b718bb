"""``/id/<KIM ID>``: any item or result by any form of its ID, and the pages of items."""

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import redirect

from public import files, serialize, values
from public.views import outcomes
from public.views.common import (
    ForTemplate,
    page_of,
    query_without,
    respond,
    visible_items,
    visible_outcomes,
)
from repository import kimcodes
from repository.errors import InvalidKIMID
from repository.models import MODEL_FOR_LEADER, Error, Outcome, TestResult, VerificationResult

RESULTS_PER_PAGE = 20


def find(request, text: str):
    """The row ``text`` names (no version: the latest), or 404; pending items for curators only."""
    try:
        code = kimcodes.parse_kim_code(text)
    except InvalidKIMID as exc:
        raise Http404(str(exc)) from exc
    kind = MODEL_FOR_LEADER.get(code.leader)
    if kind is None:
        raise Http404(f"no kind of item has leader {code.leader}")
    if issubclass(kind, Outcome):
        rows = visible_outcomes(request, kind.objects.matching_code(str(code.with_name(None))))
        found = rows.order_by("-kim_id").first()
    else:
        # By number and version: a short code works, and a wrong name still finds the item.
        rows = kind.objects.filter(leader=code.leader).matching_code(str(code.with_name(None)))
        found = visible_items(request, rows).order_by("-version").first()
    if found is None:
        raise Http404(f"nothing answers to {text}")
    return found


def canonical(request, obj, suffix: str = ""):
    query = request.META.get("QUERY_STRING")
    return redirect(f"/id/{obj.kim_id}{suffix}" + (f"?{query}" if query else ""))


def id_page(request, kim_id: str):
    obj = find(request, kim_id)
    if obj.kim_id != kim_id:
        return canonical(request, obj)  # a short code, no version or another name: the full ID
    if isinstance(obj, Outcome):
        return outcomes.outcome_page(request, obj)
    page = {"MO": model_page, "SM": model_page, "TE": test_page, "TD": driver_page,
            "MD": driver_page}.get(obj.leader, item_page)
    return page(request, obj)


def item_file(request, kim_id: str, name: str):
    """A file of an item's or a result's folder (never outside it), as plain text or bytes."""
    obj = find(request, kim_id)
    if obj.kim_id != kim_id:
        return canonical(request, obj, f"/files/{name}")
    return outcomes.send_file(files.safe_file(obj, name))


def _item_context(request, obj) -> dict:
    lineage = visible_items(request, type(obj).objects.filter(leader=obj.leader, number=obj.number))
    return {"item": obj, "versions": list(lineage.order_by("-version").values_list("kim_id", flat=True)),
            "files": files.folder_files(obj)}


def _item_payload(obj, context: dict, **more) -> dict:
    return {**serialize.item(obj), "versions": context["versions"], "files": context["files"], **more}


def item_page(request, obj):
    """Properties, reference data, checks: metadata, versions, files."""
    context = _item_context(request, obj)
    extra = {}
    if obj.leader == "VC":
        rows = visible_outcomes(request, VerificationResult.objects.filter(runner_number=obj.number)
                                .current().select_related("model", "verification_check", "environment")
                                .order_by("model__name"))
        context["checked"] = page_of(request, rows)
        extra = {"results": [serialize.outcome(r) for r in context["checked"]],
                 "page": serialize.page(context["checked"])}
    return respond(request, "public/item.html", context, lambda: _item_payload(obj, context, **extra))


def driver_page(request, obj):
    """A test driver's tests or a model driver's models (latest versions)."""
    related = obj.tests if obj.leader == "TD" else obj.models
    rows = visible_items(request, related.model.objects.filter(driver__number=obj.number)
                         .latest_versions().order_by("name"))
    context = {**_item_context(request, obj), "driven": page_of(request, rows)}
    return respond(request, "public/driver.html", context, lambda: _item_payload(
        obj, context, driven=[serialize.item_summary(i) for i in context["driven"]],
        page=serialize.page(context["driven"])))


def _grades(request, model) -> list[dict]:
    """The current verification results of the model with their figures (scalar keys)."""
    found = visible_outcomes(request, VerificationResult.objects.filter(subject_number=model.number)
                             .current().select_related("verification_check")
                             .order_by("verification_check__name"))
    grades = []
    for result in found:
        figures = [(key, entry.get("source-value"), entry.get("source-unit", ""))
                   for instance in result.instances or [] if isinstance(instance, dict)
                   for key, entry in instance.items()
                   if isinstance(entry, dict) and not isinstance(entry.get("source-value"), (list, dict))]
        grades.append({"result": result, "check": result.verification_check, "figures": figures})
    return grades


def model_page(request, model):
    """Grades, then the model's current results grouped by property, a plot per (property, test)."""
    rows = visible_outcomes(request, TestResult.objects.filter(subject_number=model.number)
                            .current().select_related("test", "model", "environment")
                            .order_by("test__name", "kim_id"))
    results = page_of(request, rows, RESULTS_PER_PAGE)
    by_result = values.values_by_result(r.pk for r in results)
    groups: dict[str, list] = {}
    for result in results:
        by_property: dict[str, list] = {}
        for row in by_result.get(result.pk, []):
            by_property.setdefault(row.property_name, []).append(row)
        for name, rows_of_property in by_property.items():
            key = values.main_key((r.key, r.value) for r in rows_of_property)
            shown = next((r for r in rows_of_property if r.key == key), None)
            plot = "/plots/test/{}.svg?{}".format(result.test.kim_id, urlencode(
                {"property": name, "key": key or "", "highlight": model.kim_id}))
            groups.setdefault(name, []).append({"test": result.test, "result": ForTemplate(result),
                                                "key": key,
                                                "value": shown, "values": rows_of_property,
                                                "plot": plot if key else None})
    context = {**_item_context(request, model), "grades": _grades(request, model),
               "results": results, "groups": sorted(groups.items())}
    return respond(request, "public/model.html", context, lambda: _item_payload(
        model, context,
        grades=[{"check": g["check"].kim_id, "grade": g["result"].grade, "result": g["result"].kim_id,
                 "figures": g["figures"]} for g in context["grades"]],
        results=[serialize.outcome(r, by_result.get(r.pk, [])) for r in results],
        page=serialize.page(results)))


SORTS = {"value": lambda p: p.value, "model": lambda p: p.model_kim_id}


def test_page(request, test):
    """The test's results across models: a plot and a table sortable by value or model."""
    reported = values.properties_of_test(test)
    chosen = request.GET.get("property") or (reported[0][0] if reported else None)
    pairs = dict(reported).get(chosen, [])
    key = values.main_key(pairs, request.GET.get("key"))
    points = values.points_for_test(test, chosen, key) if key else []
    sort = request.GET.get("sort", "value")
    points.sort(key=SORTS.get(sort.lstrip("-"), SORTS["value"]), reverse=sort.startswith("-"))
    table = page_of(request, points, 100)
    errors = visible_outcomes(request, Error.objects.filter(runner_number=test.number, test__isnull=False)
                              .current().select_related("model", "test", "environment")
                              .order_by("-created_at"))[:50]
    plot = (f"/plots/test/{test.kim_id}.svg?" + urlencode({"property": chosen, "key": key})
            if key else None)
    context = {**_item_context(request, test), "reported": reported, "property": chosen,
               "key": key, "keys": [k for k, v in pairs if values.is_number(v)], "table": table,
               "sort": sort, "plot": plot, "errors": errors,
               "query_without_sort": query_without(request, "sort", "page")}
    return respond(request, "public/test.html", context, lambda: _item_payload(
        test, context, property=chosen, key=key,
        properties=[name for name, _ in reported],
        values=[{"model": p.model_kim_id, "result": p.result_kim_id, "value": p.value,
                 "unit": p.unit} for p in table],
        errors=[serialize.outcome(e) for e in errors], page=serialize.page(table)))
