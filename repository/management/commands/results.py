"""``manage.py results ID``: the outcomes of a model or a test, one line each, with key values."""

import json

from django.core.management.base import BaseCommand

from repository import browse
from repository.cli import add_json_flag, resolve, write_json
from repository.models import Model, Test, VerificationCheck


def value_text(value) -> str:
    text = value["value"] if isinstance(value["value"], str) else json.dumps(value["value"])
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{value['key']}={text}" + (f" {value['unit']}" if value["unit"] else "")


class Command(BaseCommand):
    help = ("The current outcomes (results and errors) of a model, or of a test or verification "
            "check: pair, property, key values with units, outcome.")

    def add_arguments(self, parser):
        parser.add_argument("kim_id", metavar="MODEL_OR_TEST", help="a model, test or check ID")
        parser.add_argument("--property", dest="prop", metavar="NAME",
                            help="only results holding this property (its short name or ID) "
                                 "(default: every property)")
        parser.add_argument("--latest", action="store_true", default=True,
                            help="only each pair's current outcome (the default)")
        parser.add_argument("--all", action="store_false", dest="latest",
                            help="every outcome kept, superseded and stale ones too "
                                 "(default: current only)")
        add_json_flag(parser)

    def handle(self, *args, **options):
        item = resolve(options["kim_id"], (Model, Test, VerificationCheck),
                       "model, test or verification check")
        rows = [browse.result_row(o, prop=options["prop"])
                for o in browse.result_rows(item, prop=options["prop"], latest=options["latest"])]
        if options["json"]:
            write_json(self.stdout, rows)
            return
        for row in rows:
            if row["status"] == "error":
                what = f"error {row['category']}: {row['message']}"
            elif "grade" in row:
                what = f"grade {row['grade']}"
            else:
                by_property: dict[str, list[str]] = {}
                for value in row["values"]:
                    by_property.setdefault(value["property"], []).append(value_text(value))
                what = "; ".join(f"{p}: {', '.join(v)}" for p, v in by_property.items())
            stale = " (stale)" if row["stale"] else ""
            self.stdout.write(f"{row['kim_id']} {row['runner']} × {row['model']}{stale}: {what}")
        if options["verbosity"] > 0:
            self.stdout.write(f"{len(rows)} outcomes")
