"""What a dead worker left behind: its scratch folders, its "building" Build rows, its strays.

A worker killed by the cluster's timeout, the OOM killer or a SIGKILL cannot clean up after
itself; the kernel kills its runner (PR_SET_PDEATHSIG), and this pass, run once per worker
process at its first task and at ``runpending`` start, removes the rest. Only owners of this
host are judged: another host's pid says nothing here. An owner is one process instance
(``runner.owners``: host, pid, start time, boot), so a pid that a restarted container's
new worker (or this cleaner) holds now does not keep a dead owner's leftovers alive.
"""

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from runner import owners, processes
from runner.models import Build

log = logging.getLogger("pipeline.runner")


@dataclass
class CleanupReport:
    scratch_folders: list[str] = field(default_factory=list)  # removed owner folders
    builds: list[str] = field(default_factory=list)  # KIM IDs of "building" rows removed
    processes: list[int] = field(default_factory=list)  # stray pids killed

    def __str__(self) -> str:
        return (f"{len(self.scratch_folders)} scratch folders, {len(self.builds)} interrupted "
                f"builds, {len(self.processes)} stray processes of dead workers")


def _dead_run(value: str) -> bool:
    """A KIM_PIPELINE_RUN value ``<owner>/<scratch>`` whose owner is dead."""
    owner, _, _ = value.partition("/")
    return owners.owner_dead(owner)


def _working_in(folders: list[Path]) -> list[int]:
    """Pids of processes (own user's) whose working folder is inside one of ``folders``."""
    inside = [str(folder.resolve()) for folder in folders]
    found = []
    for entry in os.listdir("/proc") if inside else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:  # gone, or another user's
            continue
        if any(cwd == folder or cwd.startswith(folder + "/") for folder in inside):
            found.append(int(entry))
    return found


def clean_dead_owners() -> CleanupReport:
    """Kill the strays, then remove the scratch folders and the "building" rows, of dead owners."""
    report = CleanupReport()
    root = owners.scratch_root()
    dead = [folder for folder in (sorted(root.iterdir()) if root.is_dir() else [])
            if folder.is_dir() and (owner := owners.owner_of_scratch(folder)) is not None
            and owners.owner_dead(owner)]
    # Strays first: a grandchild that left the session may still write into its scratch folder.
    # Those that cleared their environment (no tag) are found by their working folder.
    report.processes = processes.tagged(_dead_run)
    report.processes += [p for p in _working_in(dead) if p not in report.processes]
    processes.kill_all(report.processes)
    for folder in dead:
        shutil.rmtree(folder, ignore_errors=True)
        report.scratch_folders.append(folder.name)
    for build in Build.objects.filter(status=Build.Status.BUILDING).exclude(owner=""):
        if not owners.owner_dead(build.owner):
            continue
        # Removed, not failed: an interrupted build says nothing of the source, and without a
        # row the next scan or installitems builds it again. Conditional on the row being
        # unchanged, so a rebuild that started meanwhile stands.
        removed, _ = Build.objects.filter(pk=build.pk, status=Build.Status.BUILDING,
                                          owner=build.owner).delete()
        if removed:
            report.builds.append(build.kim_id)
    if report.scratch_folders or report.builds or report.processes:
        # Recovery from a worker that died, done: nothing for anyone to act on.
        log.info("cleanup: %s", report)
    return report


__all__ = ["CleanupReport", "clean_dead_owners"]
