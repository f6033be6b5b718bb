"""Item integrity: an item's folder must hash as it did at import before its code runs."""

from pathlib import Path

from repository import storage
from repository.errors import PipelineIntegrityError


def check_unchanged(*items) -> None:
    """Raise PipelineIntegrityError naming the first item whose folder changed since import.

    Items without a recorded hash (installed KIM API items) or without a folder are skipped.
    """
    for item in items:
        if item is None or not getattr(item, "content_hash", "") or not getattr(item, "path", ""):
            continue
        folder = Path(item.path)
        if not folder.is_dir():
            raise PipelineIntegrityError("the item's folder is gone since import",
                                         kim_id=item.kim_id, path=folder)
        found = storage.folder_hash(folder)
        if found != item.content_hash:
            raise PipelineIntegrityError(
                f"the item's files changed since import (content hash {found[:12]}…, "
                f"imported {item.content_hash[:12]}…): its code is not run",
                kim_id=item.kim_id, path=folder)


__all__ = ["check_unchanged"]
