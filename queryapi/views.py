"""kim-query's wire protocol: ``POST /api`` (a raw query) and ``POST /api/<named query>``, each
parameter form-encoded as JSON, the answer JSON. Reads only, so CSRF-exempt; bad input is a 400
with a message, never a 500."""

import inspect
import json
import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from queryapi import api
from queryapi.named import NAMED_QUERIES
from repository.errors import PipelineError

logger = logging.getLogger("pipeline.queryapi")


def _parameters(request) -> dict:
    params = {}
    for name in request.POST:
        text = request.POST[name]
        try:
            params[name] = json.loads(text)
        except ValueError as exc:
            raise PipelineError(f"parameter {name!r} is not JSON: {text[:80]!r} ({exc})") from exc
    return params


def _bad(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
@require_POST
def raw_query(request):
    try:
        return JsonResponse(api.query(_parameters(request)), safe=False)
    except PipelineError as exc:
        return _bad(str(exc))


@csrf_exempt
@require_POST
def named_query(request, name: str):
    function = NAMED_QUERIES.get(name)
    if function is None:
        return _bad(f"no named query {name!r} here; known: {', '.join(sorted(NAMED_QUERIES))}", 404)
    try:
        params = _parameters(request)
        try:
            inspect.signature(function).bind(**params)
        except TypeError as exc:
            raise PipelineError(f"{name}{inspect.signature(function)}: {exc}") from exc
        return JsonResponse(api.named(name, params), safe=False)
    except PipelineError as exc:
        return _bad(str(exc))
