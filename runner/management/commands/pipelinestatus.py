from django.core.management.base import BaseCommand

from runner import jobs
from runner.models import Publication


def _age(delta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


class Command(BaseCommand):
    help = "Jobs by state, the running ones with their age, the waiting ones and what blocks them."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=50, help="rows per list")

    def handle(self, limit, **options):
        report = jobs.status_report(limit=limit)
        self.stdout.write("jobs: " + ", ".join(f"{state} {n}" for state, n in report["counts"].items()))
        if unpushed := Publication.objects.pending().count():  # with a remote (docs/SYNC.md)
            self.stdout.write(f"not yet pushed to the remote: {unpushed} outcome(s); see sync status")
        self.stdout.write(f"running ({len(report['running'])}):")
        for row in report["running"]:
            expired = " LEASE EXPIRED" if row["expired"] else ""
            self.stdout.write(f"  #{row['job']} {row['runner']} × {row['subject']} "
                              f"age {_age(row['age'])} on {row['owner']}{expired}")
        self.stdout.write(f"waiting ({len(report['waiting'])}):")
        for row in report["waiting"]:
            blockers = "; ".join(f"{b['runner']} ({b['state']})" for b in row["waiting_on"])
            self.stdout.write(f"  #{row['job']} {row['runner']} × {row['subject']} "
                              f"waits on {blockers}")
