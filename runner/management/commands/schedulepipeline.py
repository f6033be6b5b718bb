from django.core.management.base import BaseCommand

from runner import tasks


class Command(BaseCommand):
    help = "Create (or update) the periodic scan and reconcile schedules; safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--scan-minutes", type=int, default=10)
        parser.add_argument("--reconcile-minutes", type=int, default=2)

    def handle(self, scan_minutes, reconcile_minutes, **options):
        for schedule, created in tasks.ensure_schedules(scan_minutes=scan_minutes,
                                                        reconcile_minutes=reconcile_minutes):
            verb = "created" if created else "kept"
            self.stdout.write(f"{verb} schedule {schedule.name!r}: {schedule.func} every "
                              f"{schedule.minutes} min")
