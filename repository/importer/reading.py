"""Reading one item folder, either format: its place and name, its symlinks, then its metadata."""

import os
from pathlib import Path

from django.conf import settings

from kimsite import config
from repository import kimcodes, storage
from repository.errors import InvalidKIMID
from repository.importer.checks import reject
from repository.importer.read_2012 import read_2012
from repository.importer.read_2020 import read_2020
from repository.importer.spec import MODEL_FOR_FOLDER, ItemSpec


def check_tree(folder: Path) -> None:
    """Refuse a tree the rest cannot walk: too deep, too many entries, names not UTF-8.

    Walked without recursion (1,500 nested folders overflow recursive walks), links not followed.
    """
    depth_bound, entry_bound = settings.PIPELINE_ITEM_MAX_DEPTH, settings.PIPELINE_ITEM_MAX_ENTRIES
    todo, seen = [(folder, 0)], 0
    while todo:
        current, depth = todo.pop()
        if depth > depth_bound:
            raise reject(f"folders nested deeper than {depth_bound} levels", current, folder.name)
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            raise reject(f"cannot list the folder: {exc.strerror or exc}", current,
                         folder.name) from exc
        for entry in entries:
            seen += 1
            if seen > entry_bound:
                raise reject(f"more than {entry_bound} files and folders", folder, folder.name)
            try:
                entry.name.encode("utf-8")
            except UnicodeEncodeError as exc:
                name = os.fsencode(entry.name)
                raise reject(f"a file name that is not UTF-8: {name!r}", current,
                             folder.name) from exc
            if entry.is_dir(follow_symlinks=False):
                todo.append((Path(entry.path), depth + 1))


def _target(path: Path, folder: Path) -> Path:
    try:
        return path.resolve(strict=False)
    except (RuntimeError, OSError) as exc:  # a loop of links (Python 3.11 raises RuntimeError)
        raise reject(f"symlink loop ({os.readlink(path)})", path, folder.name) from exc


def check_symlinks(folder: Path, source_root: Path) -> list[Path]:
    """Refuse symlinks that lead out of the repository (or nowhere); return those leaving the item.

    Links leaving the item but staying in the repository are copied as the files they name.
    """
    root = source_root.resolve()
    item = folder.resolve()
    leaving = []
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            continue
        target = _target(path, folder)
        if not target.is_relative_to(root):
            raise reject(f"symlink leads out of the repository to {target}", path, folder.name)
        if not target.exists():
            raise reject(f"symlink leads nowhere ({os.readlink(path)})", path, folder.name)
        if path != folder and (os.path.isabs(os.readlink(path)) or not target.is_relative_to(item)):
            leaving.append(path)
    return leaving


def read_item(folder: Path, *, source_root: Path) -> ItemSpec:
    """Read and check one item folder; raise PipelineImportError saying what is wrong and where."""
    folder = Path(folder)
    kind = folder.parent.name
    if kind not in MODEL_FOR_FOLDER:
        raise reject(f"not in a kind folder ({', '.join(MODEL_FOR_FOLDER)})", folder)
    format_2012 = (not (folder / config.KIMSPEC_FILE).exists()
                   and (folder / config.METADATA_INFO_FILE).exists())
    try:
        code = kimcodes.parse_item_folder_name(folder.name, format_2012=format_2012)
    except InvalidKIMID as exc:
        raise reject(f"folder name is not a full KIM ID: {exc.reason}", folder) from exc
    if code.leader.lower() != kind:
        raise reject(f"a {code.leader} item in the {kind}/ folder", folder, folder.name)
    check_tree(folder)
    leaving_links = check_symlinks(folder, source_root)
    kim_id = str(code)
    if (folder / config.KIMSPEC_FILE).exists():
        spec = read_2020(folder, code, kind)
    elif (folder / config.METADATA_INFO_FILE).exists():
        spec = read_2012(folder, code, kind)
    else:
        raise reject(f"neither {config.KIMSPEC_FILE} nor {config.METADATA_INFO_FILE} is there",
                     folder, kim_id)
    spec.fields["content_hash"] = storage.folder_hash(folder)
    spec.leaving_links = leaving_links
    return spec
