"""Worker writes and publication: folders pushed whole (data first, the marker last), moved
between areas (REAL_WRITE → REAL_READ; on approval TEMP_* → REAL_READ). What waits to be
pushed is ``runner.sync.pending``.
"""

import shutil
import tempfile
from pathlib import Path

from repository import edn
from repository.errors import PipelineEDNError
from repository.kimcodes import parse_kim_code
from runner.sync import rsync
from runner.sync.errors import PipelineSyncError
from runner.sync.remote import LEADER_FOLDERS, Remote
from runner.sync.transfers import MARKER, STAGING, inspect, item_path, require_remote


def write_area_for(kim_id: str, folder: Path | None = None) -> str:
    """tr/ → REAL_WRITE; vr/ and the er/ of a verification check (its kimspec says so) → TEMP_WRITE."""
    leader = parse_kim_code(kim_id, require_version=True).leader
    if leader not in ("TR", "ER", "VR"):
        raise PipelineSyncError(f"{kim_id} is not a result: only tr/, er/ and vr/ folders are pushed")
    if leader == "VR":
        return "temp-write"
    if leader == "ER" and folder is not None and "verification-check" in _marker(folder / MARKER):
        return "temp-write"
    return "real-write"


def _marker(path: Path) -> dict:
    """A result's kimspec.edn (read with repository.edn); {} when it is not a readable map."""
    try:
        spec = edn.load(path)
    except PipelineEDNError:
        return {}
    return spec if isinstance(spec, dict) else {}


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
        mine = [t for t in good if _marker(Path(tmp) / t / MARKER).get("model") == model_id]
    moved = move(remote, "temp-write", "real-read", mine, asked=f"approve {model_id}: results")
    return moved + move(remote, "temp-read", "real-read", [item_path(model_id)], asked=f"approve {model_id}")


def counts(remote: Remote, area: str) -> dict[str, int]:
    """Whole folders per leader folder in one area (for ``sync status``)."""
    good, _ = inspect(remote, area, list(LEADER_FOLDERS), asked=f"status of {area}")
    result: dict[str, int] = {}
    for top in good:
        result[top.split("/")[0]] = result.get(top.split("/")[0], 0) + 1
    return result
