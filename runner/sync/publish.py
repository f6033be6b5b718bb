"""Worker writes and publication: data first, the marker last, a journal of what waits.

The journal (KIM_DIR/sync/unpublished.json, replaced atomically) holds every outcome whose
push has not gone through; ``sync push`` drains it. It stands in for the database field that
comes with the wiring (docs/SYNC.md).
"""

import fcntl
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from kimsite import config
from repository.kimcodes import parse_kim_code
from runner.sync import rsync
from runner.sync.errors import PipelineSyncError
from runner.sync.remote import LEADER_FOLDERS, Remote
from runner.sync.transfers import MARKER, STAGING, inspect, item_path, require_remote


def write_area_for(kim_id: str) -> str:
    """tr/ and er/ go to REAL_WRITE, vr/ to TEMP_WRITE."""
    leader = parse_kim_code(kim_id, require_version=True).leader
    if leader not in ("TR", "ER", "VR"):
        raise PipelineSyncError(f"{kim_id} is not a result: only tr/, er/ and vr/ folders are pushed")
    return "temp-write" if leader == "VR" else "real-write"


def push_folders(remote: Remote, area: str, root: Path, tops: list[str], *, asked: str) -> None:
    """Send folders whole: every data file in a first call, then the markers in a second."""
    for top in tops:
        if not (root / top / MARKER).is_file():
            raise PipelineSyncError(f"{top} has no {MARKER}: an unfinished folder is never pushed",
                                    area=area, asked=asked, address=remote.address)
    if not tops:
        return
    # The markers are excluded from the first call (and so kept where already there); --delete
    # clears what an interrupted earlier attempt left inside these folders (rsync's temp files).
    excludes = [f"--exclude=/{top}/{MARKER}" for top in tops]
    rsync.run(remote, ["-r", "--delete", *excludes, f"{root}/", remote.url(area)],
              area=area, asked=f"{asked} (data)", files=list(tops))
    rsync.run(remote, [f"{root}/", remote.url(area)], area=area, asked=f"{asked} (marker)",
              files=[f"{top}/{MARKER}" for top in tops])


def push_folder(remote: Remote, area: str, root: Path, top: str, *, asked: str) -> None:
    push_folders(remote, area, root, [top], asked=asked)


# The journal of outcomes not yet published.
def _journal_path() -> Path:
    return Path(config.KIM_DIR) / "sync" / "unpublished.json"


@contextmanager
def _journal():
    path = _journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = json.loads(path.read_text()) if path.exists() else {}
        yield entries
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".unpublished-")
        with os.fdopen(fd, "w") as out:
            json.dump(entries, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)


def unpublished() -> dict:
    """Outcomes waiting to be pushed: KIM ID → {area, since, attempts, last_error}."""
    path = _journal_path()
    return json.loads(path.read_text()) if path.exists() else {}


def push_outcome(kim_id: str, *, remote: Remote | None = None, root: Path | None = None) -> bool:
    """Push one result folder (tr/, er/ → REAL_WRITE; vr/ → TEMP_WRITE) whole.

    Recorded in the journal first; removed from it only once the marker is on the remote.
    Returns False (the error kept in the journal) when the push did not go through.
    """
    remote = remote or require_remote()
    root = Path(root or config.KIM_REPOSITORY_DIR)
    area = write_area_for(kim_id)
    with _journal() as entries:
        entry = entries.setdefault(kim_id, {"area": area, "since": time.time(), "attempts": 0,
                                            "root": str(root)})
        entry["attempts"] += 1
    try:
        push_folder(remote, area, root, item_path(kim_id), asked=f"push {kim_id}")
    except PipelineSyncError as exc:
        with _journal() as entries:
            entries.setdefault(kim_id, {"area": area, "since": time.time(), "attempts": 1,
                                        "root": str(root)})["last_error"] = str(exc)
        return False
    with _journal() as entries:
        entries.pop(kim_id, None)
    return True


def push_pending(*, remote: Remote | None = None) -> tuple[list[str], dict[str, str]]:
    """Push every outcome in the journal: (pushed, failed → error)."""
    pushed, failed = [], {}
    for kim_id, entry in sorted(unpublished().items()):
        if push_outcome(kim_id, remote=remote, root=Path(entry.get("root") or config.KIM_REPOSITORY_DIR)):
            pushed.append(kim_id)
        else:
            failed[kim_id] = unpublished().get(kim_id, {}).get("last_error", "")
    return pushed, failed


def full_write(*, remote: Remote | None = None, root: Path | None = None) -> list[str]:
    """The seed's full write: every whole local result folder, to its write area."""
    root = Path(root or config.KIM_REPOSITORY_DIR)
    done = []
    for folder in ("tr", "er", "vr"):
        for path in sorted((root / folder).glob("*")) if (root / folder).is_dir() else []:
            if (path / MARKER).is_file() and push_outcome(path.name, remote=remote, root=root):
                done.append(path.name)
    return done


def move(remote: Remote, source: str, target: str, tops: list[str], *, asked: str) -> list[str]:
    """Move whole folders from one area to another through a local staging copy.

    Pulled, pushed whole (data, then marker), and only then removed from ``source``:
    the marker first, so the source never shows a folder that is going away as whole.
    """
    with tempfile.TemporaryDirectory(prefix="kim-publish-") as tmp:
        stage = Path(tmp) / STAGING
        stage.mkdir()
        rsync.fetch(remote, source, tops, stage, asked=asked)
        whole = [top for top in tops if (stage / top / MARKER).is_file()]
        push_folders(remote, target, stage, whole, asked=asked)
        rsync.fetch(remote, source, [f"{top}/{MARKER}" for top in whole], stage,
                    asked=f"{asked} (remove markers)", extra=["--remove-source-files"])
        rsync.fetch(remote, source, whole, stage, asked=f"{asked} (remove data)",
                    extra=["--remove-source-files"])
        moved = [top.split("/")[1] for top in whole]
        shutil.rmtree(stage, ignore_errors=True)
    return moved


def publish(*, remote: Remote | None = None) -> list[str]:
    """Move every whole result from REAL_WRITE into REAL_READ."""
    remote = remote or require_remote()
    good, _ = inspect(remote, "real-write", ["tr", "er"], asked="publish: list REAL_WRITE")
    return move(remote, "real-write", "real-read", good, asked="publish REAL_WRITE → REAL_READ")


def approve(model_id: str, *, remote: Remote | None = None) -> list[str]:
    """A model approved: its verification results TEMP_WRITE → REAL_READ, the model TEMP_READ → REAL_READ."""
    remote = remote or require_remote()
    good, _ = inspect(remote, "temp-write", ["vr", "er"], asked=f"approve {model_id}: list TEMP_WRITE")
    with tempfile.TemporaryDirectory(prefix="kim-approve-") as tmp:
        rsync.fetch(remote, "temp-write", [f"{t}/{MARKER}" for t in good], tmp,
                    asked=f"approve {model_id}: read markers")
        mine = [t for t in good if model_id in (Path(tmp) / t / MARKER).read_text(errors="replace")]
    moved = move(remote, "temp-write", "real-read", mine, asked=f"approve {model_id}: results")
    return moved + move(remote, "temp-read", "real-read", [item_path(model_id)], asked=f"approve {model_id}")


def counts(remote: Remote, area: str) -> dict[str, int]:
    """Whole folders per leader folder in one area (for ``sync status``)."""
    good, _ = inspect(remote, area, list(LEADER_FOLDERS), asked=f"status of {area}")
    result: dict[str, int] = {}
    for top in good:
        result[top.split("/")[0]] = result.get(top.split("/")[0], 0) + 1
    return result
