"""Public pages: what the repository holds and what the pipeline computed."""

from django.core.cache import cache
from django.shortcuts import render

from repository.models import Model, Test, TestResult

#: Seconds the home page's counts are kept: COUNT(*) over a million results is a full scan
#: on PostgreSQL (about 0.1 s each), and a count a minute old is as good to a visitor.
COUNTS_SECONDS = 60
COUNTS_KEY = "repository:home:counts"


def item_counts() -> dict[str, int]:
    """Tests, models and test results, counted at most once per COUNTS_SECONDS per cache."""
    counts = cache.get(COUNTS_KEY)
    if counts is None:
        counts = {
            "test_count": Test.objects.count(),
            "model_count": Model.objects.count(),
            "result_count": TestResult.objects.count(),
        }
        cache.set(COUNTS_KEY, counts, COUNTS_SECONDS)
    return counts


def home(request):
    context = {
        **item_counts(),
        # Newest first: the outcome tables' created_at index (repository.models.outcomes).
        "recent_results": TestResult.objects.select_related("test", "model")
                                            .order_by("-created_at")[:20],
    }
    return render(request, "repository/home.html", context)
