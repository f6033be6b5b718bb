"""The home page (counts, recent results, latest items) and the search box behind it."""

from django.core.cache import cache
from django.db import connection
from django.db.models import Q
from django.shortcuts import redirect

from public import serialize
from public.views.common import for_template, respond, visible_items, visible_outcomes
from repository import kimcodes
from repository.models import Model, Test, TestResult

#: Seconds the home page's counts are kept: COUNT(*) over a million results is a full scan
#: on PostgreSQL (about 0.1 s each), and a count a minute old is as good to a visitor.
COUNTS_SECONDS = 60
COUNTS_KEY = "public:home:counts"
SEARCH_LIMIT = 50
#: Above this many rows (PostgreSQL's estimate), the home page says "about" the estimate:
#: an exact COUNT(*) of a million results takes 0.4 s (bench_site), once a minute per visitor.
ESTIMATE_ABOVE = 200_000


def row_count(model) -> tuple[int, bool]:
    """(rows, estimated): exact, unless PostgreSQL's planner estimate (pg_class.reltuples,
    kept by ANALYZE and autovacuum) says the table is big."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                           [model._meta.db_table])
            estimate = cursor.fetchone()[0]
        if estimate >= ESTIMATE_ABOVE:
            return estimate, True
    return model.objects.count(), False


def item_counts() -> dict:
    """Tests, models and test results, counted at most once per COUNTS_SECONDS per cache."""
    counts = cache.get(COUNTS_KEY)
    if counts is None:
        results, estimated = row_count(TestResult)
        counts = {
            "test_count": Test.objects.count(),
            "model_count": Model.objects.count(),
            "result_count": results,
            "result_count_estimated": estimated,
        }
        cache.set(COUNTS_KEY, counts, COUNTS_SECONDS)
    return counts


def home(request):
    # Newest first: the outcome tables' created_at index (repository.models.outcomes).
    recent = list(visible_outcomes(request, TestResult.objects.select_related("test", "model", "environment"))
                  .order_by("-created_at")[:20])
    models = list(visible_items(request, Model.objects.latest_versions()).order_by("-created_at")[:10])
    tests = list(visible_items(request, Test.objects.latest_versions()).order_by("-created_at")[:10])
    counts = item_counts()
    context = {**counts, "recent_results": for_template(recent), "latest_models": models, "latest_tests": tests}
    return respond(request, "public/home.html", context, lambda: {
        **counts,
        "recent_results": [serialize.outcome(r) for r in recent],
        "latest_models": [serialize.item_summary(m) for m in models],
        "latest_tests": [serialize.item_summary(t) for t in tests],
    })


def search(request):
    """A KIM ID goes to its page; other words find tests and models by title or name."""
    text = (request.GET.get("q") or "").strip()
    if text and kimcodes.is_kim_code(text):
        suffix = "?format=json" if request.GET.get("format") == "json" else ""
        return redirect(f"/id/{text}{suffix}")
    found = []
    if text:
        words = Q()
        for word in text.split()[:5]:
            words &= Q(title__icontains=word) | Q(name__icontains=word)
        for kind in (Model, Test):
            found += list(visible_items(request, kind.objects.latest_versions())
                          .filter(words).order_by("name")[:SEARCH_LIMIT])
    return respond(request, "public/search.html", {"q": text, "found": found},
                   lambda: {"q": text, "found": [serialize.item_summary(i) for i in found]})
