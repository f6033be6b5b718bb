"""The on-disk repository: where an item's folder is, and writing files and folders atomically."""

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from kimsite import config
from repository import kimcodes
from repository.errors import PipelineFileMissing

KIND_FOLDERS = ("te", "td", "mo", "md", "sm", "vc", "rd", "pr", "tr", "vr", "er")


def repository_root() -> Path:
    # Read at call time: tests and several machines point KIM_REPOSITORY_DIR elsewhere.
    return Path(config.KIM_REPOSITORY_DIR)


def item_path(kim_id: str, root: Path | None = None) -> Path:
    """``<repository>/<leader lower>/<KIM ID>``."""
    code = kimcodes.parse_kim_code(kim_id)
    return (root or repository_root()) / code.leader.lower() / str(code)


def require_file(folder: Path, name: str, kim_id: str | None = None) -> Path:
    path = folder / name
    if not path.is_file():
        raise PipelineFileMissing(f"required file {name} is missing", path=path, kim_id=kim_id)
    return path


def folder_hash(folder: Path) -> str:
    """SHA-256 over the relative names and contents of every file below ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(b"\0")
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        else:
            # In chunks: model parameter files can be hundreds of megabytes.
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def default_file_mode() -> int:
    """The mode ``open()`` gives a new file under the process's umask (0644 under 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path: Path, text: str, mode: int | None = None) -> None:
    """Write a file so that readers see the old content or the new, never a half.

    The file gets ``mode``, else the mode of a plainly written file (mkstemp's 0600 would
    set it apart from the logs beside it: one result folder, one permission mode).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, default_file_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_staged_text(path: Path, text: str) -> None:
    """Write a file inside a staging folder (:func:`staging_folder`), which no reader sees.

    No temporary file and no fsync: the folder appears whole or not at all by the one rename of
    :func:`publish_folder`, so a reader never sees this file half-written. (What a power cut
    right after the rename may lose is durability, not atomicity: about 1 ms per fsync here.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def publish_folder(staging: Path, final: Path) -> None:
    """Move a fully written folder to its final name in one rename.

    ``staging`` must be on the same file system (make it with :func:`staging_folder`).
    """
    if final.exists():
        raise FileExistsError(f"{final} exists already; results are never overwritten")
    final.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staging, final)


def staging_folder(final: Path) -> Path:
    """A hidden folder beside ``final`` to write into before :func:`publish_folder`."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))


def remove_folder(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def swap_in_folder(staging: Path, final: Path) -> Path | None:
    """Put ``staging`` at ``final``; an existing ``final`` is moved aside, not deleted.

    Returns where the old folder went (None if there was none), so the caller can either
    drop it (:func:`remove_folder`) once its transaction commits or put it back
    (:func:`restore_folder`) if it fails: readers never see a half-copied item.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    if not final.exists() and not final.is_symlink():
        os.rename(staging, final)
        return None
    aside = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
    aside.rmdir()
    os.rename(final, aside)
    try:
        os.rename(staging, final)
    except BaseException:
        os.rename(aside, final)
        raise
    return aside


def restore_folder(final: Path, aside: Path | None) -> None:
    """Undo :func:`swap_in_folder`: remove the new ``final`` and put the old one back."""
    remove_folder(final)
    if aside is not None:
        os.rename(aside, final)
