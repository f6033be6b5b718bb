"""``manage.py installitems``: build and install the repository's models and drivers shipped as source."""

from django.core.management.base import BaseCommand, CommandError

from runner.install import install_sources


class Command(BaseCommand):
    help = ("Build every latest Model and Model Driver whose folder holds source (CMakeLists.txt) "
            "and install it into the pipeline's KIM API collection; unchanged ones are skipped.")

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="build even unchanged items")

    def handle(self, *args, rebuild, **options):
        outcome = install_sources(rebuild=rebuild)
        self.stdout.write(f"installed {len(outcome['installed'])}, failed {len(outcome['failed'])}")
        for kim_id in outcome["installed"]:
            self.stdout.write(f"  installed {kim_id}")
        if outcome["failed"]:
            raise CommandError(f"build failed: {', '.join(outcome['failed'])} (see their Errors)")
