"""Reading one item folder, either format: its place and name, its symlinks, then its metadata."""

import os
from pathlib import Path

from kimsite import config
from repository import kimcodes, storage
from repository.errors import InvalidKIMID
from repository.importer.checks import reject
from repository.importer.read_2012 import read_2012
from repository.importer.read_2020 import read_2020
from repository.importer.spec import MODEL_FOR_FOLDER, ItemSpec


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
        target = path.resolve()
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
