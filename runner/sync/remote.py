"""The remote repository's settings: the address parsed and checked, the four areas."""

import re
from dataclasses import dataclass

from django.conf import settings

AREAS = ("real-read", "real-write", "temp-read", "temp-write")
_AREA_SETTINGS = {"real-read": "REAL_READ_PATH", "real-write": "REAL_WRITE_PATH",
                  "temp-read": "TEMP_READ_PATH", "temp-write": "TEMP_WRITE_PATH"}
LEADER_FOLDERS = ("te", "td", "mo", "md", "sm", "vc", "pr", "rd", "tr", "vr", "er")

_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
_DAEMON_RE = re.compile(rf"rsync://(?P<host>{_HOST})(?::(?P<port>[0-9]{{1,5}}))?/(?P<module>[A-Za-z0-9_.-]+)/?")
_SSH_RE = re.compile(rf"(?:(?P<user>[A-Za-z_][A-Za-z0-9_.-]*)@)?(?P<host>{_HOST})")


class AddressError(ValueError):
    """RSYNC_ADDRESS is not one of the accepted forms."""


@dataclass(frozen=True)
class Remote:
    """Where the remote lives. ``kind`` is ``daemon`` or ``ssh``."""

    kind: str
    host: str
    port: int
    module: str = ""
    user: str = ""
    root: str = ""
    ssh_key: str = ""

    @property
    def address(self) -> str:
        if self.kind == "daemon":
            return f"rsync://{self.host}:{self.port}/{self.module}"
        return f"{self.user + '@' if self.user else ''}{self.host} (ssh port {self.port})"

    def area_path(self, area: str) -> str:
        """The area's folder on the remote, relative to the module (daemon) or the login (ssh)."""
        sub = getattr(settings, _AREA_SETTINGS[area], area).strip("/")
        root = self.root.rstrip("/")
        return f"{root}/{sub}" if root else sub

    def url(self, area: str) -> str:
        """The rsync argument naming the area (ending in ``/``)."""
        path = self.area_path(area)
        if self.kind == "daemon":
            return f"rsync://{self.host}:{self.port}/{self.module}/{path}/"
        login = f"{self.user}@{self.host}" if self.user else self.host
        return f"{login}:{path}/"


def parse_address(text: str, *, root: str = "", port: int = 22, ssh_key: str = "") -> Remote | None:
    """Parse RSYNC_ADDRESS; None for the empty address (one machine). AddressError says why not."""
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("rsync://"):
        match = _DAEMON_RE.fullmatch(text)
        if not match:
            raise AddressError(f"RSYNC_ADDRESS {text!r} is malformed: expected rsync://HOST[:PORT]/MODULE")
        daemon_port = int(match["port"] or 873)
        if not 0 < daemon_port < 65536:
            raise AddressError(f"RSYNC_ADDRESS {text!r}: port {daemon_port} is out of range")
        return Remote("daemon", match["host"], daemon_port, module=match["module"], root=root)
    if "://" in text or "/" in text or ":" in text.replace("[", "").split("]")[-1]:
        raise AddressError(f"RSYNC_ADDRESS {text!r} is malformed: expected rsync://HOST[:PORT]/MODULE "
                           "for a daemon or [USER@]HOST for ssh (the ssh port is GLOBAL_PORT)")
    match = _SSH_RE.fullmatch(text)
    if not match:
        raise AddressError(f"RSYNC_ADDRESS {text!r} is malformed: expected [USER@]HOST for ssh")
    if not 0 < int(port) < 65536:
        raise AddressError(f"GLOBAL_PORT {port} is out of range")
    return Remote("ssh", match["host"], int(port), user=match["user"] or "", root=root, ssh_key=ssh_key)


def configured_remote() -> Remote | None:
    """The remote the settings name, or None when there is none (raises AddressError if malformed)."""
    return parse_address(getattr(settings, "RSYNC_ADDRESS", ""),
                         root=getattr(settings, "RSYNC_REMOTE_ROOT", ""),
                         port=getattr(settings, "GLOBAL_PORT", 22),
                         ssh_key=getattr(settings, "RSYNC_SSH_KEY", ""))
