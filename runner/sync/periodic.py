"""The remote's periodic work, one plain function each (the django-q2 tasks in runner.tasks call them)."""

import logging

from runner.sync import pending, transfers
from runner.sync import publish as publication
from runner.sync.transfers import require_remote

log = logging.getLogger("pipeline.sync")


def exchange() -> str:
    """Push what waits here, then pull every whole item of REAL_READ and TEMP_READ not yet here.

    The import of what was pulled (and the jobs it calls for) is the repository scan that
    follows (runner.tasks.sync_remote). Raises PipelineSyncError when the remote is unreachable.
    """
    remote = require_remote()
    pushed, failed = pending.push_pending(remote=remote)
    report = transfers.full_sync(remote=remote)
    for name, reason in sorted(report.refused.items()):
        log.error("sync: refused %s from %s: %s", name, remote.address, reason)
    summary = (f"pushed {len(pushed)}, still waiting {len(failed)}; pulled {len(report.pulled)}, "
               f"refused {len(report.refused)}, incomplete on the remote {len(report.incomplete)}")
    log.info("sync: %s", summary)
    return summary


def publish() -> str:
    moved = publication.publish(remote=require_remote())
    log.info("publish: %d results REAL_WRITE → REAL_READ", len(moved))
    return f"published {len(moved)}"
