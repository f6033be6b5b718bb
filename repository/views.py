"""Public pages: what the repository holds and what the pipeline computed."""

from django.shortcuts import render

from repository.models import Model, Test, TestResult


def home(request):
    context = {
        "test_count": Test.objects.count(),
        "model_count": Model.objects.count(),
        "result_count": TestResult.objects.count(),
        "recent_results": TestResult.objects.select_related("test", "model")[:20],
    }
    return render(request, "repository/home.html", context)
