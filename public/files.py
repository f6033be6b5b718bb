"""An item's or result's files for the public pages: only files inside its own folder, read capped."""

from pathlib import Path

from django.http import Http404

#: Characters of a file shown inline on a page; the whole file is a link away.
INLINE_CHARS = 20_000


def folder_files(obj) -> list[str]:
    """Relative names of the regular files of ``obj``'s folder (none for an item without one)."""
    folder = Path(obj.path)
    if not folder.is_dir():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and not p.is_symlink() and not p.name.startswith("."))


def safe_file(obj, relative: str) -> Path:
    """The file ``relative`` inside ``obj``'s folder, or 404: never a path that leaves the folder.

    Resolved first, so ``..``, absolute names and symbolic links that point outside are refused.
    """
    folder = Path(obj.path).resolve()
    if not relative or "\x00" in relative or relative.startswith("/"):
        raise Http404("no such file")
    target = (folder / relative).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        raise Http404("no such file")
    return target


def head_of(obj, name: str, limit: int = INLINE_CHARS) -> dict | None:
    """The first ``limit`` characters of a file and whether there is more; None when absent."""
    path = Path(obj.path) / name
    if not path.is_file():
        return None
    with open(path, "rb") as handle:
        data = handle.read(limit * 4 + 1)
    text = data.decode(errors="replace")
    truncated = len(text) > limit or path.stat().st_size > len(data)
    return {"name": name, "text": text[:limit], "truncated": truncated,
            "size": path.stat().st_size}
