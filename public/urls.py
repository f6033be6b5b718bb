"""OpenKIM's URL scheme: ``/id/<KIM ID>``, ``/browse/…``, ``/properties/<short-name>``."""

from django.urls import path

from public.views import browse, home, items, plotviews, properties

app_name = "public"

urlpatterns = [
    path("", home.home, name="home"),
    path("search", home.search, name="search"),
    path("id/<str:kim_id>", items.id_page, name="id"),
    path("id/<str:kim_id>/files/<path:name>", items.item_file, name="file"),
    path("browse/models", browse.models, name="models"),
    path("browse/tests", browse.tests, name="tests"),
    path("browse/results", browse.results, name="results"),
    path("properties/<str:short_name>", properties.property_page, name="property"),
    path("plots/test/<str:kim_id>.svg", plotviews.test_plot, name="test-plot"),
    path("plots/property/<str:short_name>.svg", plotviews.property_plot, name="property-plot"),
]
