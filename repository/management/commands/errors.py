"""``manage.py errors``: the errors, each with its one-line reason (repository.browse)."""

from django.core.management.base import BaseCommand, CommandError

from repository import browse
from repository.cli import add_json_flag, resolve, write_json
from repository.errors import PipelineError
from repository.models import Error, Model, Test, VerificationCheck


class Command(BaseCommand):
    help = ("List the errors that are their pair's current outcome (--all: every error kept), "
            "newest first, each with its category and one-line reason. `submit --errors` "
            "runs the same pairs again.")

    def add_arguments(self, parser):
        parser.add_argument("--category", choices=Error.Category.values,
                            help="only errors of this category (default: every category)")
        parser.add_argument("--test", metavar="ID",
                            help="only errors of this test or verification check (default: all)")
        parser.add_argument("--model", metavar="ID", help="only errors on this model (default: all)")
        parser.add_argument("--since", metavar="WHEN",
                            help="only errors made since: 30m, 2h, 3d, 1w or a date such as "
                                 "2026-12-01 (default: any time)")
        parser.add_argument("--all", action="store_true", dest="every",
                            help="also errors a newer outcome superseded (default: current only)")
        add_json_flag(parser)

    def handle(self, *args, **options):
        try:
            since = browse.parse_since(options["since"]) if options["since"] else None
        except PipelineError as exc:
            raise CommandError(str(exc)) from exc
        test = resolve(options["test"], (Test, VerificationCheck), "test or verification check") \
            if options["test"] else None
        model = resolve(options["model"], (Model,), "model") if options["model"] else None
        rows = [browse.error_row(e) for e in browse.error_rows(
            category=options["category"], test=test, model=model, since=since,
            current_only=not options["every"])]
        if options["json"]:
            write_json(self.stdout, rows)
            return
        for row in rows:
            pair = f"{row['runner']} × {row['model']}" if row["runner"] else \
                f"build of {row['built_item']}"
            self.stdout.write(f"{row['kim_id']} {row['category']}: {pair}: {row['message']}")
        if options["verbosity"] > 0:
            self.stdout.write(f"{len(rows)} errors")
