"""What waits to be pushed: one ``runner.models.Publication`` row per outcome folder.

The row is made before the first push and marked published only once the folder's marker is
on the remote, so an outcome whose push failed is never lost: ``sync push`` and the periodic
sync task push it later, under the same KIM ID (one row per ID).
"""

from pathlib import Path

from django.db.models import F
from django.utils import timezone

from kimsite import config
from runner.models import Publication
from runner.owners import node_name
from runner.sync.errors import PipelineSyncError
from runner.sync.publish import push_folder, write_area_for
from runner.sync.remote import Remote
from runner.sync.transfers import MARKER, item_path, require_remote


def record(kim_id: str, *, root: Path | None = None) -> Publication:
    """The outcome's row (made pending, on this node, if new)."""
    root = Path(root or config.KIM_REPOSITORY_DIR)
    row, _ = Publication.objects.get_or_create(
        outcome_kim_id=kim_id,
        defaults={"area": write_area_for(kim_id, root / item_path(kim_id)), "node": node_name(),
                  "root": str(root)})
    return row


def waiting(*, node: str | None = None):
    """Pending rows, oldest first; of one node when ``node`` is given."""
    rows = Publication.objects.pending().order_by("created_at", "pk")
    return rows.of_node(node) if node is not None else rows


def push_outcome(kim_id: str, *, remote: Remote | None = None, root: Path | None = None) -> bool:
    """Push one outcome folder whole to its write area; False (the error kept on its row) if not.

    An outcome already published is not pushed again.
    """
    remote = remote or require_remote()
    row = record(kim_id, root=root)
    if row.state == Publication.State.PUBLISHED:
        return True
    rows = Publication.objects.filter(pk=row.pk)
    rows.update(attempts=F("attempts") + 1)
    folder_root = Path(root or row.root or config.KIM_REPOSITORY_DIR)
    try:
        if not (folder_root / item_path(kim_id) / MARKER).is_file():
            raise PipelineSyncError(f"{kim_id} is not whole in {folder_root} on node {node_name()}",
                                    address=remote.address, area=row.area, asked=f"push {kim_id}")
        push_folder(remote, row.area, folder_root, item_path(kim_id), asked=f"push {kim_id}")
    except PipelineSyncError as exc:
        rows.update(last_error=str(exc))
        return False
    rows.update(state=Publication.State.PUBLISHED, pushed_at=timezone.now(), last_error="")
    return True


def push_pending(*, remote: Remote | None = None) -> tuple[list[str], dict[str, str]]:
    """Push every outcome of this node that waits: (pushed, failed → error)."""
    remote = remote or require_remote()
    pushed, failed = [], {}
    for row in waiting(node=node_name()):
        if push_outcome(row.outcome_kim_id, remote=remote, root=Path(row.root) if row.root else None):
            pushed.append(row.outcome_kim_id)
        else:
            failed[row.outcome_kim_id] = Publication.objects.get(pk=row.pk).last_error
    return pushed, failed


def full_write(*, remote: Remote | None = None, root: Path | None = None) -> list[str]:
    """The seed's full write: every whole local result folder not yet published, to its write area."""
    root = Path(root or config.KIM_REPOSITORY_DIR)
    done = []
    for folder in ("tr", "er", "vr"):
        for path in sorted((root / folder).glob("*")) if (root / folder).is_dir() else []:
            if (path / MARKER).is_file() and push_outcome(path.name, remote=remote, root=root):
                done.append(path.name)
    return done
