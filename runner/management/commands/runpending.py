from django.core.management.base import BaseCommand

from runner import jobs

NAMES = {"TR": "test results", "VR": "verification results", "ER": "errors"}


class Command(BaseCommand):
    help = "Run every queued job on this machine, without a cluster (same run_job as qcluster)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=1, help="worker processes")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, workers, no_progress, **options):
        summary = jobs.run_pending(workers, progress=not no_progress, stream=self.stderr)
        ran = sum(n for key, n in summary.items() if key not in ("still waiting", "retried"))
        parts = [f"{n} {NAMES.get(key, key)}" for key, n in sorted(summary.items()) if n]
        self.stdout.write(f"ran {ran} jobs: " + (", ".join(parts) or "nothing queued"))
