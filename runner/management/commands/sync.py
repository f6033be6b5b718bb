"""``manage.py sync pull|push|publish|status``: the remote repository over rsync (docs/SYNC.md).

Exit code 0 when everything went through, 1 otherwise; errors are one clear line, no traceback.
"""

from django.core.management.base import BaseCommand, CommandError

import runner.sync  # noqa: F401  (registers the RSYNC_ADDRESS system check)
from repository.errors import PipelineError
from runner import tasks
from runner.sync import pending, transfers
from runner.sync import publish as pub
from runner.sync.errors import PipelineSyncError
from runner.sync.remote import AREAS, LEADER_FOLDERS, AddressError, configured_remote


class Command(BaseCommand):
    help = "Pull from, push to, publish on, or show the remote repository (RSYNC_ADDRESS)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        pull = sub.add_parser("pull", help="pull whole items (default: all of REAL_READ and TEMP_READ), "
                                            "import what changed and submit its jobs")
        pull.add_argument("--area", choices=AREAS, action="append")
        pull.add_argument("--no-import", action="store_true", help="only pull, import nothing")
        pull.add_argument("kim_ids", nargs="*")
        sub.add_parser("push", help="push every outcome not yet published")
        publish = sub.add_parser("publish", help="move whole results REAL_WRITE → REAL_READ")
        publish.add_argument("--approve", metavar="MODEL_ID", help="publish an approved model from TEMP_*")
        sub.add_parser("status", help="address, each area's reachability and counts, what waits")

    def handle(self, *args, action, **options):
        try:
            remote = configured_remote()
            if remote is None:
                raise CommandError("no remote repository is configured: RSYNC_ADDRESS is empty")
            ok = getattr(self, f"do_{action}")(remote, **options)
        except (PipelineError, AddressError) as exc:  # PipelineSyncError, InvalidKIMID, …
            raise CommandError(str(exc)) from None
        if not ok:
            raise CommandError(f"sync {action}: not everything went through (see above)")

    def do_pull(self, remote, *, area=None, kim_ids=(), no_import=False, **_):
        areas = area or ["real-read", "temp-read"]
        reports = []
        for name in areas:
            if kim_ids:
                reports.append(transfers.pull_items(name, kim_ids, remote=remote))
            else:
                reports.append(transfers.pull_folders(name, LEADER_FOLDERS, remote=remote))
        report = transfers.merge(*reports)
        self.stdout.write(f"pulled {len(report.pulled)}, already here {len(report.present)}, "
                          f"incomplete on the remote {len(report.incomplete)}, refused {len(report.refused)}")
        for name in report.pulled:
            self.stdout.write(f"  pulled {name}")
        for name, reason in sorted(report.refused.items()):
            self.stderr.write(f"  refused {name}: {reason}")
        missing = [k for k in kim_ids if k not in report.pulled + report.present]
        for name in missing:
            self.stderr.write(f"  not found whole on the remote: {name}")
        imported_ok = True
        if report.pulled and not no_import:
            # The repository scan's work: what changed is imported and its jobs submitted.
            imported, made = tasks.import_and_submit()
            self.stdout.write(f"import: {imported.summary()}; {made} jobs submitted")
            for folder, reason in imported.rejected:
                self.stderr.write(f"  not imported {folder}: {reason}")
            imported_ok = imported.ok
        return not report.refused and not missing and imported_ok

    def do_push(self, remote, **_):
        pushed, failed = pending.push_pending(remote=remote)
        self.stdout.write(f"pushed {len(pushed)}, still waiting {len(failed)}")
        for kim_id, error in failed.items():
            self.stderr.write(f"  {kim_id}: {error}")
        return not failed

    def do_publish(self, remote, *, approve=None, **_):
        moved = pub.approve(approve, remote=remote) if approve else pub.publish(remote=remote)
        self.stdout.write(f"published {len(moved)}")
        for name in moved:
            self.stdout.write(f"  {name}")
        return True

    def do_status(self, remote, **_):
        self.stdout.write(f"remote {remote.address}")
        ok = True
        for area in AREAS:
            try:
                counts = pub.counts(remote, area)
            except PipelineSyncError as exc:
                ok = False
                self.stdout.write(f"  {area}: unreachable ({exc.last_words or exc})")
                continue
            text = ", ".join(f"{k}/ {v}" for k, v in sorted(counts.items())) or "empty"
            self.stdout.write(f"  {area} ({remote.url(area)}): {text}")
        waiting = list(pending.waiting())
        self.stdout.write(f"waiting to be pushed: {len(waiting)}")
        for row in waiting:
            self.stdout.write(f"  {row.outcome_kim_id} → {row.area} from {row.node or '?'} "
                              f"({row.attempts} attempt(s)): {row.last_error}")
        return ok
