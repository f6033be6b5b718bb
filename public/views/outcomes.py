"""The page of a result or error (values, rendered input, outputs, provenance) and its downloads."""

import csv
import io
import json
import mimetypes

from django.http import FileResponse, Http404, HttpResponse

from kimsite import config
from public import files, serialize
from public.views.common import ForTemplate, respond
from queryapi.models import QueryDocument
from repository import kimcodes
from repository.models import Error, TestResult, VerificationResult

#: The outputs of a run shown on its page, in this order.
OUTPUT_FILES = (config.STDIN_FILE, config.STDOUT_FILE, config.STDERR_FILE, config.KIM_LOG_FILE)
TEXT_TYPES = {"text/plain", "application/json", "application/x-sh", "text/x-python",
              "text/csv", "text/x-c", "text/x-c++"}


def send_file(path):
    """A file as plain text (never HTML the browser would run) or as a download.

    SecurityMiddleware adds ``X-Content-Type-Options: nosniff``; the sandbox CSP keeps even a
    mislabelled file from running script in the site's origin.
    """
    guessed, _ = mimetypes.guess_type(path.name)
    with open(path, "rb") as handle:
        sample = handle.read(4096)
    textual = b"\x00" not in sample and (guessed in TEXT_TYPES or guessed is None
                                         or (guessed or "").startswith("text/"))
    response = FileResponse(open(path, "rb"), as_attachment=not textual, filename=path.name,
                            content_type="text/plain; charset=utf-8" if textual
                            else "application/octet-stream")
    response["Content-Security-Policy"] = "sandbox"
    return response


def upstream_links(obj) -> list[dict]:
    """The upstream results the run read (provenance), each with its page when it is a KIM ID."""
    links = []
    for entry in (obj.provenance or {}).get("upstream-results", []):
        text = entry if isinstance(entry, str) else str(entry)
        links.append({"text": text, "url": f"/id/{text}" if kimcodes.is_kim_code(text) else None})
    return links


def provenance_rows(obj) -> list[tuple[str, object]]:
    """(label, value) of the public provenance, flattened for a table."""
    spec = serialize.provenance(obj.provenance)
    rows = [(f"profiling: {k}", v) for k, v in (spec.get("profiling") or {}).items()]
    rows += [(k, v) for k, v in spec.items() if k not in ("profiling", "upstream-results")]
    if obj.environment_id:
        rows += [(f"environment: {k}", v) for k, v in serialize.environment(obj.environment).items()]
    return rows


def outcome_page(request, obj):
    if request.GET.get("download") == "csv":
        return values_csv(obj)
    values = list(obj.values.order_by("instance", "id")) if isinstance(obj, TestResult) else []
    outputs = [files.head_of(obj, name) for name in OUTPUT_FILES]
    if isinstance(obj, Error):  # an error's folder may be gone; its row keeps the tails
        outputs += [{"name": f"{label} (last lines)", "text": text, "truncated": False}
                    for label, text in (("stdout", obj.stdout_tail), ("stderr", obj.stderr_tail),
                                        ("kim.log", obj.kimlog_tail)) if text]
    context = {"outcome": ForTemplate(obj), "kind": obj._meta.verbose_name, "runner": obj.runner,
               "values": values, "outputs": [o for o in outputs if o],
               "provenance": provenance_rows(obj), "upstream": upstream_links(obj),
               "files": files.folder_files(obj),
               "has_results_file": (obj.path / config.RESULTS_FILE).is_file(),
               "instances": getattr(obj, "instances", None),
               "is_grade": isinstance(obj, VerificationResult)}
    return respond(request, "public/outcome.html", context, lambda: {
        **serialize.outcome(obj, values if isinstance(obj, TestResult) else None),
        "documents": query_documents(obj)})


def query_documents(obj) -> list[dict]:
    """The result's documents in the query API's ``data`` database, as ``POST /api`` answers
    them (same rows, same field names: ``meta.uuid``, ``meta.runner.kimcode``, ``si-value``…);
    an error has none."""
    rows = (QueryDocument.objects.filter(database=QueryDocument.Database.DATA, source=obj.kim_id)
            .order_by("pk").values_list("document", "latest"))
    # ``latest`` is kept in its own column (it changes without the document), as the engine reads it.
    return [{**document, "latest": latest} for document, latest in rows]


def values_csv(obj) -> HttpResponse:
    if not isinstance(obj, TestResult):
        raise Http404("only test results have property values")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["result", "instance", "property", "key", "value", "unit"])
    for row in obj.values.order_by("instance", "id"):
        writer.writerow([obj.kim_id, row.instance, row.property_name, row.key,
                         row.value if not isinstance(row.value, (list, dict))
                         else json.dumps(row.value), row.unit])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{obj.kim_id}.csv"'
    return response
