"""The SVG plots the pages embed as images (so a page is fast and needs no JavaScript)."""

from django.core.cache import cache
from django.http import Http404, HttpResponse

from public import plots, values
from public.views import properties
from public.views.items import find

SECONDS = 60


def _svg(request, draw) -> HttpResponse:
    key = "public:plot:" + request.get_full_path()
    svg = cache.get(key)
    if svg is None:
        svg = draw()
        cache.set(key, svg, SECONDS)
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def test_plot(request, kim_id: str):
    """One property key of a test across models; ``highlight`` marks one model."""
    test = find(request, kim_id)
    if test.leader != "TE":
        raise Http404("plots are of tests")
    property_name, key = request.GET.get("property", ""), request.GET.get("key", "")
    if not property_name or not key:
        raise Http404("a plot needs ?property= and ?key=")

    def draw():
        points = values.points_for_test(test, property_name, key)
        return plots.values_svg(points, title=f"{test.name}: {property_name}", quantity=key,
                                unit=points[0].unit if points else "",
                                highlight=request.GET.get("highlight"))
    return _svg(request, draw)


def property_plot(request, short_name: str):
    """A property on one test across models, with its reference data as a line or band."""
    context = properties.context_for(request, short_name)
    if context["key"] is None:
        raise Http404(f"no values of {short_name} yet")

    def draw():
        points = [row["point"] for row in context["rows"]]
        return plots.values_svg(points, title=f"{short_name} on {context['test'].name}",
                                quantity=context["key"], unit=points[0].unit if points else "",
                                references=context["reference_values"])
    return _svg(request, draw)
