from django.core.management.base import BaseCommand, CommandError

from repository.errors import PipelineError
from runner import director
from runner.models import Job


class Command(BaseCommand):
    help = "Submit the jobs an item calls for (a test: every matching model; a model: every test…)."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("kim_id", nargs="?", help="KIM ID; without a version, the latest")
        target.add_argument("--all", action="store_true",
                            help="every latest test and check, and the checks of pending models")
        parser.add_argument("--priority", default="normal",
                            help="; ".join(label for _, label in Job.Priority.choices))
        parser.add_argument("--force", action="store_true",
                            help="run pairs that already have a current result")

    def handle(self, kim_id, priority, force, **options):
        try:
            if options["all"]:
                kim_id = "everything"
                report = director.submit_all(priority=priority, force=force)
            else:
                report = director.submit(kim_id, priority=priority, force=force)
        except PipelineError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{kim_id}: {report}")
