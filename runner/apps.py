from django.apps import AppConfig


class RunnerConfig(AppConfig):
    name = "runner"
    verbose_name = "Pipeline runner"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the queue-settings check (retry must exceed timeout).
        from runner import checks  # noqa: F401
