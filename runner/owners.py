"""Owners: the process instance whose runs, builds and scratch folders these are.

An owner is ``host:pid:start:boot``: the node name of the job leases, the worker's pid, its
start time (clock ticks since boot, field 22 of /proc/<pid>/stat) and the boot id's first 8
hex digits, so a reused pid (a restarted container's new worker, or the cleaner itself) or
another boot is another owner. Old ``host:pid`` owners are judged by the pid alone. Job
leases have owners of their own (``runner.jobs.new_owner``).
"""

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from kimsite import config


def stat_fields(pid: str) -> list[str] | None:
    """The fields of /proc/<pid>/stat from the state on (field 3); None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode(errors="replace")
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    return stat[stat.rfind(")") + 2:].split()


def node_name() -> str:
    return settings.PIPELINE_NODE_NAME or socket.gethostname()


def start_time(pid: int) -> int | None:
    """``pid``'s start time (field 22 of /proc/<pid>/stat); None when gone or a zombie."""
    fields = stat_fields(str(pid))
    if fields is None or len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def boot_id() -> str:
    """The first 8 hex digits of this boot's id: start times count from this boot."""
    with open("/proc/sys/kernel/random/boot_id") as handle:
        return handle.read().strip().replace("-", "")[:8]


def owner() -> str:
    """``host:pid:start:boot`` of this process, as Build.owner and scratch folders record it."""
    return f"{node_name()}:{os.getpid()}:{start_time(os.getpid())}:{boot_id()}"


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    start: int | None = None  # start and boot: None for an old ``host:pid`` owner
    boot: str | None = None


def parse_owner(text: str) -> Owner | None:
    parts = text.split(":")
    if (len(parts) >= 4 and parts[-3].isdigit() and parts[-2].isdigit()
            and re.fullmatch("[0-9a-f]{8}", parts[-1])):
        return Owner(":".join(parts[:-3]), int(parts[-3]), int(parts[-2]), parts[-1])
    if len(parts) >= 2 and parts[-1].isdigit():
        return Owner(":".join(parts[:-1]), int(parts[-1]))
    return None


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` names a process that has not exited (a zombie counts as dead)."""
    return start_time(pid) is not None


def owner_dead(text: str) -> bool:
    """True only for an owner of this host whose process is gone; another host's is unknown.

    Gone: its pid is free, or held by another process (another start time), or the owner
    lived in another boot. An old ``host:pid`` owner is dead when its pid is free.
    """
    parsed = parse_owner(text)
    if parsed is None or parsed.host != node_name():
        return False
    if parsed.start is None:
        return parsed.pid != os.getpid() and not pid_alive(parsed.pid)
    return parsed.boot != boot_id() or start_time(parsed.pid) != parsed.start


def scratch_root() -> Path:
    """Where runs happen: never inside the KIM API build area (the cwd is a KIM API collection)."""
    return Path(config.KIM_DIR) / "scratch"


def owner_scratch(owner_text: str | None = None) -> Path:
    """This owner's folder of run folders: ``scratch/<host>+<pid>+<start>+<boot>`` (no ':' in a cwd)."""
    text = owner_text or owner()
    host = parse_owner(text).host
    return scratch_root() / f"{host}+{text[len(host) + 1:].replace(':', '+')}"


def owner_of_scratch(folder: Path) -> str | None:
    """The owner of ``folder``, a folder of owner_scratch (or of an old ``<host>+<pid>`` owner)."""
    parts = folder.name.split("+")
    text = "+".join(parts[:-3]) + ":" + ":".join(parts[-3:])
    if len(parts) >= 4 and (parsed := parse_owner(text)) is not None and parsed.start is not None:
        return text
    host, sep, pid = folder.name.rpartition("+")
    return f"{host}:{pid}" if sep and pid.isdigit() else None


__all__ = ["Owner", "boot_id", "node_name", "owner", "owner_dead", "owner_of_scratch",
           "owner_scratch", "parse_owner", "pid_alive", "scratch_root", "start_time", "stat_fields"]
