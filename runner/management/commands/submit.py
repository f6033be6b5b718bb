"""``manage.py submit``: queue what an item calls for, everything, or the pairs of the errors."""

from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand, CommandError

from repository import browse
from repository.cli import add_json_flag, write_json
from repository.errors import PipelineError
from repository.models import Error
from runner import director
from runner.models import Job

#: ``--priority`` choices, as a command line spells them: ``very-high``.
PRIORITY_NAMES = {label.replace(" ", "-"): value for value, label in Job.Priority.choices}


def priority_argument(text: str) -> str:
    """``very high``, ``very_high``, ``Very-High`` → ``very-high``; anything else is refused."""
    name = text.strip().lower().replace(" ", "-").replace("_", "-")
    if name not in PRIORITY_NAMES:
        raise ArgumentTypeError(f"unknown priority {text!r}; one of: {', '.join(PRIORITY_NAMES)}")
    return name


def priority_name(value: int) -> str:
    return Job.Priority(value).label.replace(" ", "-")


def report_data(target: str, report) -> dict:
    return {"target": target, "queued": report.queued, "waiting": report.waiting,
            "up_to_date": report.up_to_date, "errored": report.errored,
            "already_active": report.already_active, "raised": report.raised,
            "notes": report.notes,
            "jobs": [{"job": j.pk, "runner": j.runner_kim_id, "model": j.subject_kim_id,
                      "state": j.state, "priority": priority_name(j.priority)}
                     for j in report.jobs]}


def error_pairs(category: str | None) -> list[tuple]:
    """The (runner, model) pairs whose current outcome is an error (of ``category``)."""
    pairs = {}
    for error in browse.error_rows(category=category):
        if error.runner is not None and error.model is not None:
            pairs[(error.runner.kim_id, error.model.kim_id)] = (error.runner, error.model)
    return list(pairs.values())


class Command(BaseCommand):
    help = ("Submit the jobs an item calls for (a test: every matching model; a model: every "
            "test and check), everything (--all), or the pairs whose current outcome is an "
            "error (--errors).")

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("kim_id", nargs="?", help="KIM ID (or name); without a version, the latest")
        target.add_argument("--all", action="store_true",
                            help="every latest test and check, and the checks of pending models "
                                 "(default: the item named)")
        target.add_argument("--errors", action="store_true",
                            help="run again every pair whose current outcome is an error "
                                 "(default: the item named)")
        parser.add_argument("--category", choices=Error.Category.values,
                            help="with --errors: only errors of this category (default: all)")
        parser.add_argument("--priority", default="normal", type=priority_argument,
                            choices=list(PRIORITY_NAMES),
                            help="priority of the new jobs; a queued job of the same pair is "
                                 "raised to it (default: normal)")
        parser.add_argument("--checks", choices=director.CHECKS_ON_APPROVED, default="mandatory",
                            help="with --all: the checks run on approved models (pending models "
                                 "get every check) (default: mandatory)")
        parser.add_argument("--force", action="store_true",
                            help="run pairs that already have a current result (default: off)")
        add_json_flag(parser)

    def handle(self, kim_id, priority, force, **options):
        if options["category"] and not options["errors"]:
            raise CommandError("--category goes with --errors")
        priority = PRIORITY_NAMES[priority]
        try:
            if options["all"]:
                kim_id = "everything"
                report = director.submit_all(priority=priority, force=force,
                                               checks=options["checks"])
            elif options["errors"]:
                pairs = error_pairs(options["category"])
                kim_id = f"{len(pairs)} pairs with a current error" + (
                    f" ({options['category']})" if options["category"] else "")
                report = director.submit_pairs(pairs, priority=priority, force=True,
                                               reason="submit --errors")
            else:
                report = director.submit(kim_id, priority=priority, force=force)
        except PipelineError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            write_json(self.stdout, report_data(kim_id, report))
        else:
            self.stdout.write(f"{kim_id}: {report}")
