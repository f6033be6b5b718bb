"""``manage.py pipelinestatus``: outcomes by category, then the jobs (runner.status)."""

from django.core.management.base import BaseCommand

from repository.cli import add_json_flag, positive_int, write_json
from runner.models import Publication
from runner.status import pipeline_status


def age(seconds: int) -> str:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


class Command(BaseCommand):
    help = ("Outcomes by category (results, errors per category, stale), then the jobs: by state, "
            "queued by priority with the next few, running with owner and age (leases of dead "
            "workers flagged), waiting with what they wait on.")

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=positive_int, default=50,
                            help="rows per list of running and waiting jobs (default: 50)")
        parser.add_argument("--next", type=positive_int, default=5, dest="next_few",
                            help="queued jobs shown, in the order workers take them (default: 5)")
        add_json_flag(parser)

    def handle(self, limit, next_few, **options):
        status = pipeline_status(limit=limit, next_few=next_few)
        if options["json"]:
            write_json(self.stdout, status)
            return
        out, jobs = status["outcomes"], status["jobs"]
        errors = sum(out["errors"].values())
        by_category = ", ".join(f"{c} {n}" for c, n in out["errors"].items())
        self.stdout.write(f"outcomes: {out['test_results']} test results, "
                          f"{out['verification_results']} verification results, {errors} errors"
                          + (f" ({by_category})" if by_category else "")
                          + f"; stale {out['stale']} (to be run again)")
        if errors:
            self.stdout.write("  manage.py errors lists them; submit --errors runs them again")
        counts = jobs["counts"]
        self.stdout.write("jobs: " + ", ".join(f"{state} {n}" for state, n in counts.items()))
        if unpushed := Publication.objects.pending().count():  # with a remote (docs/SYNC.md)
            self.stdout.write(f"not yet pushed to the remote: {unpushed} outcome(s); see sync status")
        if counts["done"]:
            self.stdout.write(f"  done: {counts['done'] - jobs['done_with_error']} left a result, "
                              f"{jobs['done_with_error']} an error")
        queued = ", ".join(f"{label} {n}" for label, n in jobs["queued_by_priority"].items() if n)
        self.stdout.write(f"queued ({counts['queued']})" + (f": {queued}" if queued else ""))
        for row in jobs["next"]:
            self.stdout.write(f"  next #{row['job']} {row['runner']} × {row['model']} "
                              f"({row['priority']})")
        self.stdout.write(f"running ({counts['running']}):")
        for row in jobs["running"]:
            flags = (" LEASE EXPIRED" if row["lease_expired"] else "") + \
                    (" OWNER DEAD" if row["owner_dead"] else "")
            self.stdout.write(f"  #{row['job']} {row['runner']} × {row['model']} "
                              f"age {age(row['age_seconds'])} on {row['owner']}{flags}")
        self.stdout.write(f"waiting ({counts['waiting']}):")
        for row in jobs["waiting"]:
            blockers = "; ".join(f"{b['runner']}" + (f" × {b['subject']}" if b["subject"] != row["model"]
                                                      else "") + f" ({b['state']})"
                                 for b in row["waiting_on"])
            self.stdout.write(f"  #{row['job']} {row['runner']} × {row['model']} "
                              f"waits on {blockers}")
