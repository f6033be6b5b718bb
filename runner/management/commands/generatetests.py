"""``manage.py generatetests TD_… [--add-random-kimnums] [--dry-run]``: kimgenie (runner.kimgenie)."""

from django.core.management.base import BaseCommand, CommandError

from repository.errors import PipelineError
from runner.kimgenie import generate_tests


class Command(BaseCommand):
    help = ("Generate the Tests of a test driver from its test_template/ and test_generator.json "
            "(OpenKIM's kimgenie) and import them.")

    def add_arguments(self, parser):
        parser.add_argument("driver", help="KIM ID of the test driver (name and version may be left out)")
        parser.add_argument("--add-random-kimnums", action="store_true",
                            help="draw a random unused kimnum for generator lines that have none")
        parser.add_argument("--dry-run", action="store_true",
                            help="render every Test and say what would be written; import nothing")

    def handle(self, *args, **options):
        try:
            report = generate_tests(options["driver"], add_random_kimnums=options["add_random_kimnums"],
                                    dry_run=options["dry_run"])
        except PipelineError as exc:
            raise CommandError(str(exc)) from exc
        for test in report.tests:
            files = ", ".join(sorted(test.files))
            self.stdout.write(f"{test.kim_id} (generator line {test.line}): {files}")
        if report.imported is None:
            self.stdout.write(f"dry run: {len(report.tests)} Test(s) of {report.driver}, nothing written")
            return
        for kim_id, warning in report.imported.warnings:
            self.stderr.write(f"warning: {kim_id}: {warning}")
        self.stdout.write(f"generatetests {report.driver}: {report.imported.summary()}")
