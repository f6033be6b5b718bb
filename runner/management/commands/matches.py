"""``manage.py matches KIMID [--why] [--no-kimapi]``: the matching partners of a test, check or
model, each with what its pair has (a result, an error, a job), and why the others do not match.

In runner, not repository: a pair's job is the queue's (runner.models.Job).
"""

from collections import defaultdict

from django.core.management.base import BaseCommand, CommandError

from repository import matching
from repository.cli import add_json_flag, write_json
from repository.errors import PipelineError
from repository.models import Model
from runner.summary import pair_states


class Command(BaseCommand):
    help = ("List the models a Test or Verification Check runs on, or the Tests and Checks that "
            "run on a Model, each with its pair's current outcome or live job. --why also "
            "counts the non-matches by the first rule that failed (-v 2: every one).")

    def add_arguments(self, parser):
        parser.add_argument("kim_id", help="A Test, Verification Check or Model (no version: latest).")
        parser.add_argument("--why", action="store_true",
                            help="Explain the non-matches: a summary per rule, every one with -v 2 "
                                 "(default: off).")
        parser.add_argument("--no-kimapi", action="store_true",
                            help="Skip the last rule (creating each candidate model in the KIM "
                                 "API) (default: the KIM API is asked).")
        add_json_flag(parser)

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
        states = pair_states(item, matched)
        by_rule = defaultdict(list)
        for partner, verdict in refused:
            by_rule[verdict.rule].append((partner, verdict.reason))
        if options["json"]:
            write_json(self.stdout, {
                "kim_id": item.kim_id, "kim_api_asked": not no_kimapi,
                "matching": [{"kim_id": p, **states[p]} for p in matched],
                "not_matching": {rule: [{"kim_id": p, "reason": r} for p, r in rows]
                                 for rule, rows in by_rule.items()}})
            return
        partners = "tests and checks" if isinstance(item, Model) else "models"
        self.stdout.write(f"{item.kim_id}: {len(matched)} matching {partners}"
                          + (" (KIM API not asked)" if no_kimapi else ""))
        for partner in matched:
            self.stdout.write(f"  {partner}  {states[partner]['text']}")
        if not why:
            return
        self.stdout.write(f"{len(refused)} not matching:")
        for rule, rows in sorted(by_rule.items(), key=lambda pair: -len(pair[1])):
            self.stdout.write(f"  [{rule}] {len(rows)} {partners}, e.g. {rows[0][0]}: {rows[0][1]}")
            for partner, reason in rows if options["verbosity"] > 1 else ():
                self.stdout.write(f"    {partner}  [{rule}] {reason}")
