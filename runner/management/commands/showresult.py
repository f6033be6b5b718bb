"""``manage.py showresult ID`` or ``showresult TEST MODEL``: a kept outcome with its provenance."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from repository import kimcodes
from repository.cli import add_json_flag, resolve, write_json
from repository.models import (
    Error,
    Model,
    Test,
    TestResult,
    VerificationCheck,
    VerificationResult,
    latest_outcome,
)
from runner.management.commands.runpair import print_summary
from runner.summary import outcome_summary


class Command(BaseCommand):
    help = ("Show a Test Result, Verification Result or Error (TR_…, VR_…, ER_…), or the current "
            "outcome of a pair (TEST MODEL), and where it came from.")

    def add_arguments(self, parser):
        parser.add_argument("kim_id", help="TR, VR or ER KIM ID, or a test or check (then MODEL)")
        parser.add_argument("model", nargs="?",
                            help="with a test or check: the model; shows the pair's current outcome")
        add_json_flag(parser)

    def handle(self, *args, **options):
        text = options["kim_id"]
        if options["model"]:
            runner_item = resolve(text, (Test, VerificationCheck), "test or verification check")
            model = resolve(options["model"], (Model,), "model")
            outcome = latest_outcome(runner_item, model)
            if outcome is None:
                raise CommandError(f"{runner_item.kim_id} × {model.kim_id} has no current outcome; "
                                   "runpair runs it")
        elif not kimcodes.is_kim_code(text) or \
                kimcodes.parse_kim_code(text).leader not in kimcodes.RESULT_LEADERS:
            raise CommandError(f"{text!r} is not the KIM ID of a result or an error (TR_, VR_, "
                               "ER_); a test or check needs a model: showresult TEST MODEL")
        else:
            outcome = resolve(text, (TestResult, VerificationResult, Error), "result or error")
        summary = outcome_summary(outcome)
        if options["json"]:
            write_json(self.stdout, summary)
            return
        print_summary(self.stdout, summary, all_values=True)
        environment = summary["environment"] or {}
        self.stdout.write("  computed on: " + ", ".join(f"{k} {v}" for k, v in environment.items()))
        self.stdout.write(f"  created at {summary['created_at']}" + (" (stale)" if summary["stale"] else ""))
        spec = summary["provenance"]
        if spec.get("executable"):
            self.stdout.write(f"  executable {spec['executable']}, exit code {spec.get('exit-code')}")
        folder = Path(summary["path"])
        if folder.is_dir():
            names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
            self.stdout.write(f"  files: {', '.join(names)}")
