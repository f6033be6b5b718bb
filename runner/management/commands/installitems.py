"""``manage.py installitems``: build the repository's items shipped as source.

Models and model drivers are built and installed into the pipeline's KIM API collection; test
drivers, tests and checks are built into the build area (``runner.build``), where runs find them.
"""

from django.core.management.base import BaseCommand, CommandError

from repository import kimcodes
from repository.cli import add_json_flag, write_json
from repository.errors import PipelineBuildError, PipelineError
from repository.models import kim_obj
from runner import build
from runner.install import KIND_FOR_LEADER, install_item, install_sources
from runner.models import Build


def builds_finished() -> dict[str, tuple]:
    """KIM ID → (status, finished_at) of every build row: what a build changes."""
    return {kim_id: (status, finished) for kim_id, status, finished in
            Build.objects.values_list("kim_id", "status", "finished_at")}


class Command(BaseCommand):
    help = ("Build every latest item whose folder holds source (models and model drivers into the "
            "pipeline's KIM API collection; test drivers, tests and checks into the build area), "
            "or only the items named; unchanged ones are skipped.")

    def add_arguments(self, parser):
        parser.add_argument("kim_ids", nargs="*", metavar="KIM_ID",
                            help="only these items (default: every latest item with source)")
        parser.add_argument("--rebuild", action="store_true",
                            help="build even unchanged items (default: unchanged ones are kept)")
        add_json_flag(parser)

    def handle(self, *args, kim_ids, rebuild, **options):
        before = builds_finished()
        outcome = self._named(kim_ids, rebuild) if kim_ids else install_sources(rebuild=rebuild)
        after = builds_finished()
        # An item whose build row did not change was found unchanged, not built again.
        unchanged = [k for k in outcome["installed"] if k in before and before[k] == after.get(k)]
        built = [k for k in outcome["installed"] if k not in unchanged]
        if options["json"]:
            write_json(self.stdout, {"installed": built, "unchanged": unchanged,
                                     "failed": outcome["failed"]})
        elif options["verbosity"] > 0:
            self.stdout.write(f"installed {len(built)}, unchanged {len(unchanged)}, "
                              f"failed {len(outcome['failed'])}")
            for kim_id in built:
                self.stdout.write(f"  installed {kim_id}")
            for kim_id in unchanged if options["verbosity"] > 1 else ():
                self.stdout.write(f"  unchanged {kim_id}")
        if outcome["failed"]:
            raise CommandError(f"build failed: {', '.join(outcome['failed'])} (see their Errors)")

    def _named(self, kim_ids: list[str], rebuild: bool) -> dict[str, list[str]]:
        try:
            items = [kim_obj(kim_id) for kim_id in kim_ids]
        except PipelineError as exc:
            raise CommandError(str(exc)) from exc
        outcome = {"installed": [], "failed": []}
        runners = [item for item in items
                   if kimcodes.parse_kim_code(item.kim_id).leader not in KIND_FOR_LEADER]
        for item in items:
            if item in runners:
                continue
            try:
                install_item(item, rebuild=rebuild)
            except PipelineBuildError:
                outcome["failed"].append(item.kim_id)
            else:
                outcome["installed"].append(item.kim_id)
        built = build.build_items(runners, rebuild=rebuild)
        outcome["installed"] += built["built"]
        outcome["failed"] += built["failed"]
        return outcome
