from django.apps import AppConfig


class QueryApiConfig(AppConfig):
    name = "queryapi"
    verbose_name = "OpenKIM query API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from queryapi import sync

        sync.connect()
