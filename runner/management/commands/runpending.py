"""``manage.py runpending``: run what is queued on this machine, without a cluster."""

import os

from django.core.management.base import BaseCommand

from repository.cli import add_json_flag, console_logs, positive_int, write_json
from runner import jobs

NAMES = {"TR": "test results", "VR": "verification results", "ER": "errors"}


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Command(BaseCommand):
    help = "Run every queued job on this machine, without a cluster (same run_job as qcluster)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=positive_int, default=1,
                            help="worker processes, at most the machine's cores (default: 1)")
        parser.add_argument("--no-progress", action="store_true",
                            help="no progress bar (default: a bar on stderr)")
        add_json_flag(parser)

    def handle(self, workers, no_progress, **options):
        cores = usable_cores()
        if workers > cores:
            self.stderr.write(f"--workers {workers}: this machine has {cores} cores; using {cores}")
            workers = cores
        with console_logs(options["verbosity"], shown_from=1):
            summary = jobs.run_pending(workers, progress=not no_progress and not options["json"],
                                       stream=self.stderr)
        ran = sum(n for key, n in summary.items() if key not in ("still waiting", "retried"))
        if options["json"]:
            write_json(self.stdout, {"ran": ran, "workers": workers,
                                     **{NAMES.get(k, k).replace(" ", "_"): n
                                        for k, n in summary.items()}})
            return
        parts = [f"{n} {NAMES.get(key, key)}" for key, n in sorted(summary.items()) if n]
        if options["verbosity"] > 0:
            self.stdout.write(f"ran {ran} jobs: " + (", ".join(parts) or "nothing queued"))
