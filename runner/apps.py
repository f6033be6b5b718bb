from django.apps import AppConfig


def prepare_worker(sender, proc_name=None, **kwargs):
    """django-q2's post_spawn, in each new worker process: clean what dead workers left here,
    and start the worker's warm server.

    At spawn rather than at the first task, so that strays of a killed cluster do not live on
    until a job happens to arrive, and the first jobs do not run cold.
    """
    from runner.jobs import prepare_worker_process

    prepare_worker_process()


class RunnerConfig(AppConfig):
    name = "runner"
    verbose_name = "Pipeline runner"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django_q.signals import post_spawn

        from repository.signals import items_imported

        # Registers the system checks: the queue's settings (runner.checks) and the remote's
        # address (runner.sync.E001).
        from runner import checks, sync  # noqa: F401
        from runner.build import build_imported

        # Runners shipped as source are built when imported, not inside a job.
        items_imported.connect(build_imported, dispatch_uid="runner.build.build_imported")
        post_spawn.connect(prepare_worker, dispatch_uid="runner.apps.prepare_worker")
