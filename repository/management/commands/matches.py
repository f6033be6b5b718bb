"""``manage.py matches KIMID [--why] [--no-kimapi]``: the matching partners of a test, check or model."""

from django.core.management.base import BaseCommand, CommandError

from repository import matching
from repository.errors import PipelineError
from repository.models import Model


class Command(BaseCommand):
    help = ("List the models a Test or Verification Check runs on, or the Tests and Checks that "
            "run on a Model. --why also gives, for each non-match, the first rule that failed.")

    def add_arguments(self, parser):
        parser.add_argument("kim_id", help="A Test, Verification Check or Model (no version: latest).")
        parser.add_argument("--why", action="store_true", help="Explain every non-match.")
        parser.add_argument("--no-kimapi", action="store_true",
                            help="Skip the last rule (creating each candidate model in the KIM API).")

    def handle(self, *args, kim_id, why, no_kimapi, **options):
        try:
            item = matching.resolve_partner(kim_id)
            if isinstance(item, Model):
                table = matching.runner_table(item, authoritative=not no_kimapi)
            else:
                table = matching.model_table(item, authoritative=not no_kimapi)
        except PipelineError as exc:
            raise CommandError(str(exc)) from exc
        matched = sorted(facts.kim_id for facts, verdict in table if verdict.ok)
        refused = sorted(((facts.kim_id, verdict) for facts, verdict in table if not verdict.ok),
                         key=lambda pair: pair[0])
        partners = "tests and checks" if isinstance(item, Model) else "models"
        self.stdout.write(f"{item.kim_id}: {len(matched)} matching {partners}"
                          + (" (KIM API not asked)" if no_kimapi else ""))
        for partner in matched:
            self.stdout.write(f"  {partner}")
        if why:
            self.stdout.write(f"{len(refused)} not matching:")
            for partner, verdict in refused:
                self.stdout.write(f"  {partner}  [{verdict.rule}] {verdict.reason}")
