"""``manage.py items``: the items, one line each, as the KIM Developer Platform's ``kimitems``."""

from django.core.management.base import BaseCommand

from repository import browse
from repository.cli import add_json_flag, resolve, write_json
from repository.models import ModelDriver, TestDriver


class Command(BaseCommand):
    help = "List items (latest versions) by kind, species, driver or words of their name and title."

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=list(browse.KIND_TABLES),
                            help="only this kind: te td mo sm md vc pr rd (default: every kind)")
        parser.add_argument("--species", action="append", default=[], metavar="SYMBOL",
                            help="only items with this species; repeat for several (default: any)")
        parser.add_argument("--driver", metavar="ID",
                            help="only the tests or models of this driver (default: any)")
        parser.add_argument("--search", default="", metavar="WORDS",
                            help="only items whose name, title or description holds every word "
                                 "(default: no filter)")
        parser.add_argument("--all-versions", action="store_true",
                            help="every version, not only the latest (default: latest only)")
        add_json_flag(parser)

    def handle(self, *args, **options):
        driver = resolve(options["driver"], (TestDriver, ModelDriver), "test or model driver") \
            if options["driver"] else None
        rows = [browse.item_row(item) for item in browse.item_rows(
            kind=options["kind"], species=options["species"], driver=driver,
            search=options["search"], latest=not options["all_versions"])]
        if options["json"]:
            write_json(self.stdout, rows)
            return
        for row in rows:
            species = f" [{' '.join(row['species'])}]" if row["species"] else ""
            title = f"  {row['title']}" if row["title"] else ""
            self.stdout.write(f"{row['kim_id']}{species}{title}")
        if options["verbosity"] > 0:
            self.stdout.write(f"{len(rows)} items")
