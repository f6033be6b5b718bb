"""Make every document of the query API again from the database's rows."""

from django.core.management.base import BaseCommand

from queryapi.sync import rebuild


class Command(BaseCommand):
    help = "Rebuild the query API's data and obj documents from the results, reference data and items."

    def handle(self, *args, **options):
        counts = rebuild()
        self.stdout.write(f"{counts['data']} data documents, {counts['obj']} obj documents")
