from django.core.management.base import BaseCommand

from repository.cli import positive_int
from runner import tasks


class Command(BaseCommand):
    help = ("Create (or update) the periodic scan and reconcile schedules, and with a remote "
            "(RSYNC_ADDRESS) the sync and publication schedules; safe to run again.")

    def add_arguments(self, parser):
        parser.add_argument("--scan-minutes", type=positive_int, default=10,
                            help="minutes between scans of the repository for new or changed "
                                 "items (default: 10)")
        parser.add_argument("--reconcile-minutes", type=positive_int, default=2,
                            help="minutes between reconcile passes: expired leases, stale "
                                 "results (default: 2)")
        parser.add_argument("--sync-minutes", type=positive_int, default=5,
                            help="push what waits, pull new items and submit their jobs "
                                 "(default: 5)")
        parser.add_argument("--publish-minutes", type=positive_int, default=10,
                            help="move whole results REAL_WRITE → REAL_READ (default: 10)")

    def handle(self, scan_minutes, reconcile_minutes, sync_minutes, publish_minutes, **options):
        made = tasks.ensure_schedules(scan_minutes=scan_minutes, reconcile_minutes=reconcile_minutes)
        made += tasks.ensure_sync_schedules(sync_minutes=sync_minutes, publish_minutes=publish_minutes)
        for schedule, created in made:
            verb = "created" if created else "kept"
            self.stdout.write(f"{verb} schedule {schedule.name!r}: {schedule.func} every "
                              f"{schedule.minutes} min")
