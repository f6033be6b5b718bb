from django.apps import AppConfig


class PublicConfig(AppConfig):
    """The public pages (openkim.org's URL scheme) and the curator roles."""

    name = "public"
    default_auto_field = "django.db.models.BigAutoField"
