from django.apps import AppConfig


class RepositoryConfig(AppConfig):
    name = "repository"
    verbose_name = "KIM repository"
    default_auto_field = "django.db.models.BigAutoField"
