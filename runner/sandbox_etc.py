"""The ``/etc`` of a run: a copy of the allowlisted entries, bound with one mount.

bwrap binds each allowed entry of ``/etc`` with two mount calls: fourteen entries were about
3.5 ms of a run's 12 ms of sandbox start-up on this project's machine. A copy of them, made
once per machine and per content (``KIM_DIR/sandbox/etc-<digest>``), is bound instead. Only
what every user may read is copied: the run's user is unprivileged, and a copy must not
spread what was not meant for it (``/etc/ssl/private``). A worker reads ``/etc`` once: a change
to it reaches the runs of workers started after it.
"""

import hashlib
import logging
import os
import shutil
import stat
import tempfile
from functools import cache
from pathlib import Path

from kimsite import config

logger = logging.getLogger("pipeline.runner")

ETC = Path("/etc")
#: What of /etc a run may read (the dynamic loader, names, fonts, certificates, alternatives).
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "passwd", "group",
               "nsswitch.conf", "hosts", "localtime", "fonts", "ssl", "ca-certificates",
               "mime.types", "matplotlibrc", "openmpi", "gai.conf")


def listing() -> list[tuple[str, int, int, int, str]]:
    """Every allowed path below /etc (links not followed), with what identifies its content:
    (relative path, mode, size, mtime in ns, link target)."""
    found = []
    for name in ETC_ENTRIES:
        paths = [ETC / name]
        if paths[0].is_dir() and not paths[0].is_symlink():
            for root, dirs, files in os.walk(paths[0]):
                paths += [Path(root) / entry for entry in sorted(dirs + files)]
        for path in paths:
            try:
                found_stat = os.lstat(path)
            except OSError:
                continue
            link = os.readlink(path) if stat.S_ISLNK(found_stat.st_mode) else ""
            found.append((str(path.relative_to(ETC)), found_stat.st_mode, found_stat.st_size,
                          found_stat.st_mtime_ns, link))
    return found


def _copy(entries, target: Path) -> None:
    """The world-readable part of ``entries`` (a listing) under ``target``."""
    for relative, mode, _size, _mtime, link in entries:
        source, copy = ETC / relative, target / relative
        if not copy.parent.is_dir():
            continue  # below a folder that was not copied
        if stat.S_ISLNK(mode):
            os.symlink(link, copy)
        elif stat.S_ISDIR(mode) and mode & 0o005 == 0o005:
            copy.mkdir(mode=0o755)
        elif stat.S_ISREG(mode) and mode & 0o004:
            shutil.copy2(source, copy)
            copy.chmod(stat.S_IMODE(mode) & 0o755)


@cache
def _wanted() -> tuple[list, str]:
    entries = listing()
    return entries, hashlib.sha256(repr(entries).encode()).hexdigest()[:16]


def etc_folder() -> Path | None:
    """The copy of this machine's allowed /etc, made if missing; None when it cannot be made
    (then each entry is bound on its own, as before)."""
    entries, digest = _wanted()
    folder = config.KIM_DIR / "sandbox" / f"etc-{digest}"
    if folder.is_dir():
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".etc-", dir=folder.parent))
        try:
            staging.chmod(0o755)
            _copy(entries, staging)
            os.rename(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # nothing there once renamed
    except OSError as exc:
        if folder.is_dir():
            return folder  # another worker made the same copy first
        logger.warning("no copy of /etc for the sandbox (%s): each entry is bound on its own", exc)
        return None
    return folder


def etc_arguments() -> list[str]:
    """bwrap's arguments for a run's /etc: the copy, else each allowed entry bound on its own."""
    etc = etc_folder()
    if etc is not None:
        return ["--ro-bind", str(etc), str(ETC)]
    return [arg for name in ETC_ENTRIES if (ETC / name).exists()
            for arg in ("--ro-bind", str(ETC / name), str(ETC / name))]


__all__ = ["ETC_ENTRIES", "etc_arguments", "etc_folder", "listing"]
