from django.apps import AppConfig


class RunnerConfig(AppConfig):
    name = "runner"
    verbose_name = "Pipeline runner"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from repository.signals import items_imported

        # Registers the system checks: the queue's settings (runner.checks) and the remote's
        # address (runner.sync.E001).
        from runner import checks, sync  # noqa: F401
        from runner.build import build_imported

        # Runners shipped as source are built when imported, not inside a job.
        items_imported.connect(build_imported, dispatch_uid="runner.build.build_imported")
