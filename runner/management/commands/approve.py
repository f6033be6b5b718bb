"""``manage.py approve MODEL [--override --reason TEXT] [--curator NAME]``: a curator's approval
on the model's verification-check grades (runner.director.approval.approve)."""

import getpass

from django.core.management.base import BaseCommand, CommandError

from repository.errors import PipelineError
from repository.models import Model, kim_obj
from runner.director import approval


class Command(BaseCommand):
    help = ("Approve a pending model when every mandatory verification check passed, or over "
            "them with --override and a --reason; checks not run yet are queued first.")

    def add_arguments(self, parser):
        parser.add_argument("model", help="the model's KIM ID (no version: the latest)")
        parser.add_argument("--override", action="store_true",
                            help="approve although a mandatory check has not passed")
        parser.add_argument("--reason", default="", help="why (required with --override)")
        parser.add_argument("--curator", default=None,
                            help="who decides (default: the user running the command)")

    def handle(self, *args, **options):
        try:
            model = kim_obj(options["model"])
            if not isinstance(model, Model):
                raise CommandError(f"{options['model']} is not a model")
            outcome = approval.approve(model, curator=options["curator"] or getpass.getuser(),
                                       override=options["override"], reason=options["reason"])
        except PipelineError as exc:
            raise CommandError(str(exc)) from exc
        for row in outcome.blocking:
            self.stdout.write(f"{row.check.kim_id}: {row.grade}")
        if not outcome.approved:
            hint = " (approve over them with --override --reason ...)" if outcome.blocking else ""
            raise CommandError(f"{model.kim_id} not approved: {outcome}{hint}")
        kind = "with an override" if outcome.decision.override else "on its checks' grades"
        self.stdout.write(f"approved {model.kim_id} {kind} by {outcome.decision.curator}; "
                          f"{len(outcome.report.jobs)} jobs queued")
