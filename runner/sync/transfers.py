"""One function per transfer the seed lists (docs/SYNC.md). Every pull is checked, staged, then moved.

A folder is taken from the remote only when it is whole: it has its marker (``kimspec.edn``),
its name is a KIM ID of its folder's leader, and nothing in it is a device, an outward link or
a file above RSYNC_MAX_SIZE. Pulls land in a staging folder and are renamed into
KIM_REPOSITORY_DIR one item at a time, so a reader never sees half an item.
"""

import os
import posixpath
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from kimsite import config
from repository.errors import InvalidKIMID
from repository.kimcodes import parse_kim_code
from runner.sync import rsync
from runner.sync.errors import PipelineSyncError
from runner.sync.remote import LEADER_FOLDERS, Remote, configured_remote

MARKER = "kimspec.edn"
STAGING = ".sync-partial"


@dataclass
class PullReport:
    pulled: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def require_remote() -> Remote:
    remote = configured_remote()
    if remote is None:
        raise PipelineSyncError("no remote repository is configured (RSYNC_ADDRESS is empty)")
    return remote


def max_size_bytes() -> int:
    text = str(settings.RSYNC_MAX_SIZE).strip().upper()
    match = re.fullmatch(r"([0-9]+)([KMGT]?)B?", text)
    if not match:
        raise PipelineSyncError(f"RSYNC_MAX_SIZE {settings.RSYNC_MAX_SIZE!r} is not a size like 500M")
    return int(match[1]) * 1024 ** " KMGT".index(match[2] or " ")


def item_path(kim_id: str) -> str:
    """``te/Name__TE_…_000`` for a full KIM ID; InvalidKIMID for anything else (``..``, ``/x``)."""
    code = parse_kim_code(kim_id, require_version=True)
    return f"{code.leader.lower()}/{kim_id}"


def _refusal(folder: str, name: str, entries: list[rsync.Entry], limit: int) -> str | None:
    try:
        code = parse_kim_code(name, require_version=True)
    except InvalidKIMID:
        return f"folder name {name!r} is not a KIM ID"
    if code.leader.lower() != folder:
        return f"{name} does not belong in {folder}/"
    top = f"{folder}/{name}"
    for entry in entries:
        parts = entry.path.split("/")
        if entry.path.startswith("/") or ".." in parts:
            return f"path {entry.path!r} leaves the item"
        if entry.is_link:
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), entry.target))
            if entry.target.startswith("/") or not (resolved + "/").startswith(top + "/"):
                return f"symlink {entry.path} -> {entry.target} leads out of the item"
        elif not (entry.is_dir or entry.is_regular):
            return f"{entry.path} is a device or special file ({entry.mode})"
        elif entry.size > limit:
            return f"{entry.path} is {entry.size} bytes, above RSYNC_MAX_SIZE {settings.RSYNC_MAX_SIZE}"
    return None


def inspect(remote: Remote, area: str, paths: list[str], *, asked: str):
    """Group the remote listing of ``paths`` by item: (whole items, report of the others)."""
    limit = max_size_bytes()
    groups: dict[str, list[rsync.Entry]] = {}
    for entry in rsync.listing(remote, area, paths, asked=asked):
        parts = entry.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] not in LEADER_FOLDERS:
            continue
        groups.setdefault(f"{parts[0]}/{parts[1]}", []).append(entry)
    good, report = [], PullReport()
    for top, entries in sorted(groups.items()):
        folder, name = top.split("/")
        reason = _refusal(folder, name, entries, limit)
        if reason:
            report.refused[name] = reason
        elif not any(e.path.rstrip("/") == f"{top}/{MARKER}" and e.is_regular for e in entries):
            report.incomplete.append(name)
        else:
            good.append(top)
    return good, report


def _locally_whole(root: Path, top: str) -> bool:
    return (root / top / MARKER).is_file()


def pull(area: str, paths: list[str], *, asked: str, remote: Remote | None = None,
         into: Path | None = None) -> PullReport:
    """Pull whole items under ``paths`` (item folders or leader folders) from ``area``.

    Item versions are immutable: an item already whole locally is not pulled again.
    """
    remote = remote or require_remote()
    root = Path(into or config.KIM_REPOSITORY_DIR)
    good, report = inspect(remote, area, paths, asked=asked)
    wanted = []
    for top in good:
        (report.present if _locally_whole(root, top) else wanted).append(top)
    report.present = [top.split("/")[1] for top in report.present]
    if not wanted:
        return report
    staging = root / STAGING / area
    staging.mkdir(parents=True, exist_ok=True)
    rsync.fetch(remote, area, wanted, staging, asked=asked, extra=[f"--max-size={settings.RSYNC_MAX_SIZE}"])
    for top in wanted:
        staged, final = staging / top, root / top
        if not (staged / MARKER).is_file():
            report.incomplete.append(top.split("/")[1])
            continue
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # a local half folder (no marker) from an older run
            shutil.rmtree(final)
        os.replace(staged, final)
        report.pulled.append(top.split("/")[1])
    shutil.rmtree(root / STAGING, ignore_errors=True)
    return report


def pull_items(area: str, kim_ids, **kw) -> PullReport:
    ids = sorted(set(kim_ids))
    return pull(area, [item_path(k) for k in ids], asked=f"pull {' '.join(ids)}", **kw)


def pull_folders(area: str, folders, **kw) -> PullReport:
    folders = [f for f in folders if f in LEADER_FOLDERS]
    return pull(area, folders, asked=f"pull all of {', '.join(f + '/' for f in folders)}", **kw)


def merge(*reports: PullReport) -> PullReport:
    total = PullReport()
    for r in reports:
        total.pulled += r.pulled
        total.present += r.present
        total.incomplete += r.incomplete
        total.refused.update(r.refused)
    return total


# The director's reads.
def director_new_model(model_id: str, **kw) -> PullReport:
    """A new or updated model: the model, all of te/, and what says which results exist (tr/)."""
    return merge(pull_items("real-read", [model_id], **kw), pull_folders("real-read", ["te", "td", "tr"], **kw))


def director_new_test(test_id: str, **kw) -> PullReport:
    """A new test: all of mo/ (and md/), the test, existing results."""
    return merge(pull_items("real-read", [test_id], **kw), pull_folders("real-read", ["mo", "md", "tr"], **kw))


def director_model_under_review(model_id: str, **kw) -> PullReport:
    """A model under review: all of vc/ from REAL_READ, the model from TEMP_READ."""
    return merge(pull_folders("real-read", ["vc"], **kw), pull_items("temp-read", [model_id], **kw))


# The worker's reads.
def pull_for_job(runner_ids, subject_ids, upstream_ids=(), *, under_review=False, **kw) -> PullReport:
    """What one job needs: the runner and its driver, the subject (TEMP_READ when under review)
    and its driver, and the upstream results its template reads. Only what is missing locally."""
    real = list(runner_ids) + list(upstream_ids) + ([] if under_review else list(subject_ids))
    reports = [pull_items("real-read", real, **kw)] if real else []
    if under_review:
        reports.append(pull_items("temp-read", list(subject_ids), **kw))
    return merge(*reports)


def full_sync(**kw) -> PullReport:
    """The seed's full sync: every folder of REAL_READ and TEMP_READ."""
    return merge(pull_folders("real-read", LEADER_FOLDERS, **kw), pull_folders("temp-read", LEADER_FOLDERS, **kw))
