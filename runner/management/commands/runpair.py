"""``manage.py runpair TEST MODEL``: run one pair, safely (runner.pairs), and say how it went."""

import json

from django.core.management.base import BaseCommand, CommandError

from repository.cli import add_json_flag, console_logs, resolve, write_json
from repository.models import Model, Test, VerificationCheck
from runner.pairs import PairRefused, run_requested_pair
from runner.summary import outcome_summary


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


def run_data(answer) -> dict:
    """The JSON of one request: the outcome kept (or that stood), what it superseded and queued."""
    kept = answer.outcome or answer.existing
    downstream = answer.downstream
    data = outcome_summary(kept) if kept is not None else {}
    return data | {
        "ran": answer.ran, "dry_run": answer.dry_run,
        "existing": answer.existing.kim_id if answer.existing is not None else None,
        "superseded": answer.superseded,
        "queued": [{"job": j.pk, "runner": j.runner_kim_id, "model": j.subject_kim_id,
                    "state": j.state} for j in (downstream.jobs if downstream else [])],
        "would_queue": answer.would_queue,
    }


class Command(BaseCommand):
    help = ("Run one Test or Verification Check on one Model (partial KIM IDs mean the latest "
            "version). A pair with a current outcome is shown, not run again, unless --force; a "
            "pair the matching rules refuse is not run and nothing is written, unless --force.")

    def add_arguments(self, parser):
        parser.add_argument("runner", help="Test or Verification Check KIM ID (or its name)")
        parser.add_argument("model", help="Model KIM ID (or its name)")
        add_json_flag(parser)
        parser.add_argument("--force", action="store_true",
                            help="run even a pair with a current outcome (the new outcome "
                                 "supersedes it) or one the matching rules refuse (its mismatch "
                                 "Error is kept) (default: off)")
        parser.add_argument("--dry-run", action="store_true",
                            help="say what would run and what it would queue, run nothing "
                                 "(default: off)")
        parser.add_argument("--rebuild", action="store_true",
                            help="build a runner shipped as source again before running it "
                                 "(a run never builds otherwise: builds happen at import and in "
                                 "installitems) (default: off)")

    def handle(self, *args, **options):
        runner_item = resolve(options["runner"], (Test, VerificationCheck),
                              "test or verification check",
                              swap_hint=f"runpair {options['model']} {{item}}")
        model = resolve(options["model"], (Model,), "model",
                        swap_hint=f"runpair {{item}} {options['runner']}")
        with console_logs(options["verbosity"]):
            try:
                answer = run_requested_pair(runner_item, model, force=options["force"],
                                            dry_run=options["dry_run"], rebuild=options["rebuild"])
            except PairRefused as exc:
                raise CommandError(str(exc), returncode=1) from exc
        if options["json"]:
            write_json(self.stdout, run_data(answer))
        elif options["verbosity"] > 0:
            self._say(answer)
        kept = answer.outcome or answer.existing
        if answer.ran and kept.kim_id.startswith("ER_"):
            # The error was printed above, once; the exit status says it failed.
            raise CommandError(f"{kept.kim_id}: {kept.category}", returncode=1)

    def _say(self, answer) -> None:
        pair = f"{answer.runner.kim_id} × {answer.model.kim_id}"
        if answer.existing is not None and not answer.force:
            print_summary(self.stdout, outcome_summary(answer.existing))
            verb = "would not run" if answer.dry_run else "not run"
            self.stdout.write(f"{pair} has this current outcome; {verb} again "
                              "(--force re-runs it and the new outcome supersedes it)")
            return
        if answer.dry_run:
            again = f" again, superseding {answer.existing.kim_id}" if answer.existing else ""
            self.stdout.write(f"would run {pair}{again}")
            if answer.would_queue:
                self.stdout.write("a result would queue again the pairs on this model of: "
                                  + ", ".join(answer.would_queue))
            return
        print_summary(self.stdout, outcome_summary(answer.outcome))
        if answer.superseded:
            self.stdout.write(f"  supersedes {', '.join(answer.superseded)}")
        report = answer.downstream
        if report is not None and report.jobs:
            self.stdout.write(f"queued downstream of {answer.outcome.kim_id}: {report}")
            for job in report.jobs:
                self.stdout.write(f"  job {job.pk}: {job.runner_kim_id} × {job.subject_kim_id} "
                                  f"({job.state})")
