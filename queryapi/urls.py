from django.urls import path

from queryapi import views

urlpatterns = [
    path("api", views.raw_query, name="query-api"),
    path("api/<str:name>", views.named_query, name="query-api-named"),
]
