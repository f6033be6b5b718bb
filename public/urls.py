"""OpenKIM's URL scheme: ``/id/<KIM ID>``, ``/browse/…``, ``/properties/<short-name>``."""

from django.urls import path
from django.views.decorators.http import require_safe

from public.views import browse, home, items, plotviews, properties

app_name = "public"


def page(route, view, name):
    # Every public page only reads: any other method than GET or HEAD is refused (405).
    return path(route, require_safe(view), name=name)


urlpatterns = [
    page("", home.home, "home"),
    page("search", home.search, "search"),
    page("id/<str:kim_id>", items.id_page, "id"),
    page("id/<str:kim_id>/files/<path:name>", items.item_file, "file"),
    page("browse/models", browse.models, "models"),
    page("browse/tests", browse.tests, "tests"),
    page("browse/results", browse.results, "results"),
    page("properties/<str:short_name>", properties.property_page, "property"),
    page("plots/test/<str:kim_id>.svg", plotviews.test_plot, "test-plot"),
    page("plots/property/<str:short_name>.svg", plotviews.property_plot, "property-plot"),
]
