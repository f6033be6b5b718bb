from django.urls import path

from repository import views

app_name = "repository"

urlpatterns = [
    path("", views.home, name="home"),
]
