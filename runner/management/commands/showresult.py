"""``manage.py showresult ID``: a kept result or error with its provenance."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from repository import kimcodes
from repository.cli import add_json_flag, resolve, write_json
from repository.models import Error, TestResult, VerificationResult
from runner.management.commands.runpair import print_summary
from runner.summary import outcome_summary


class Command(BaseCommand):
    help = "Show a Test Result, Verification Result or Error (TR_…, VR_…, ER_…) and where it came from."

    def add_arguments(self, parser):
        parser.add_argument("kim_id", help="TR, VR or ER KIM ID")
        add_json_flag(parser)

    def handle(self, *args, **options):
        text = options["kim_id"]
        if not kimcodes.is_kim_code(text) or kimcodes.parse_kim_code(text).leader not in kimcodes.RESULT_LEADERS:
            raise CommandError(f"{text!r} is not the KIM ID of a result or an error (TR_, VR_, ER_)")
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
