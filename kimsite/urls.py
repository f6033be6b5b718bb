from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "KIM processing pipeline"
admin.site.site_title = "KIM pipeline"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("queryapi.urls")),
    path("", include("public.urls")),
]
