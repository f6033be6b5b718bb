"""``manage.py runpair TEST MODEL``: run one pair through run_pair and say how it went."""

import json

from django.core.management.base import BaseCommand, CommandError

from repository.errors import PipelineError
from repository.models import Model, Test, TestResult, VerificationCheck, kim_obj
from runner import director
from runner.execute import run_pair
from runner.summary import outcome_summary


def resolve(text: str, kinds: tuple, what: str):
    """A full or partial KIM ID → its row (latest version when it has none)."""
    try:
        item = kim_obj(text)
    except PipelineError as exc:
        raise CommandError(str(exc)) from exc
    if not isinstance(item, kinds):
        raise CommandError(f"{text} is a {item._meta.verbose_name}, not a {what}")
    return item


def short_value(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def key_values(values: list[dict]) -> list[dict]:
    """The physical quantities (values with a unit); all values when none has one (2012 results)."""
    with_units = [v for v in values if v["unit"]]
    return with_units or values


def print_summary(stdout, summary: dict, *, all_values: bool = False) -> None:
    timing = ""
    if summary["runtime"] is not None:
        timing = f" in {summary['runtime']:.2f} s"
        if summary["usertime"] is not None:
            timing += f" (user {summary['usertime']:.2f} s, max {summary['memmax'] / 1024:.0f} MiB)"
    status = summary["status"] if summary["status"] == "ok" else f"error: {summary['category']}"
    stdout.write(f"{summary['kim_id']}: {summary['runner']} × {summary['model']}: {status}{timing}")
    if summary["status"] == "error":
        stdout.write(f"  {summary['message']}")
        for name in ("stderr_tail", "stdout_tail"):
            lines = summary[name].splitlines()[-5:]
            if lines:
                stdout.write(f"  last lines of {name.split('_')[0]}:")
                for line in lines:
                    stdout.write(f"    {line}")
    if summary.get("grade"):
        stdout.write(f"  grade {summary['grade']}")
    values = summary.get("values", [])
    for value in values if all_values else key_values(values):
        unit = f" {value['unit']}" if value["unit"] else ""
        stdout.write(f"  {value['property']}.{value['key']}[{value['instance']}] = "
                     f"{short_value(value['value'])}{unit}")
    if summary["upstream"]:
        stdout.write(f"  upstream results used: {', '.join(summary['upstream'])}")
    stdout.write(f"  kept in {summary['path']}")


class Command(BaseCommand):
    help = "Run one Test or Verification Check on one Model (partial KIM IDs mean the latest version)."

    def add_arguments(self, parser):
        parser.add_argument("runner", help="Test or Verification Check KIM ID")
        parser.add_argument("model", help="Model KIM ID")
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
        parser.add_argument("--rebuild", action="store_true",
                            help="build a runner shipped as source again before running it "
                                 "(a run never builds otherwise: builds happen at import and in installitems)")

    def handle(self, *args, **options):
        runner_item = resolve(options["runner"], (Test, VerificationCheck), "test or verification check")
        model = resolve(options["model"], (Model,), "model")
        outcome = run_pair(runner_item, model, rebuild=options["rebuild"])
        if isinstance(outcome, TestResult):
            # As when a job lands: results built on the old upstream are stale and queued again.
            restale = director.upstream_changed(outcome)
            if restale.jobs:
                self.stderr.write(f"downstream of {outcome.kim_id}: {restale}")
        summary = outcome_summary(outcome)
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2, default=str))
        else:
            print_summary(self.stdout, summary)
        if summary["status"] == "error":
            raise CommandError(f"{summary['kim_id']}: {summary['category']}: {summary['message']}",
                               returncode=1)
