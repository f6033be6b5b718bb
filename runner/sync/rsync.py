"""The rsync command builder and runner: argument lists (never a shell), retries, listings."""

import logging
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from kimsite import config
from runner.sync.errors import PipelineSyncError
from runner.sync.remote import Remote

log = logging.getLogger(__name__)

#: rsync exit codes worth another attempt (socket/IO, partial transfer, timeouts, vanished peer).
TRANSIENT_EXIT_CODES = frozenset({10, 12, 23, 30, 35})
#: Refuse what a hostile sender could plant: outward links, devices and specials.
SAFETY_FLAGS = ["--safe-links", "--no-D", "--no-specials", "--no-devices"]


def ssh_command(remote: Remote) -> list[str]:
    command = ["ssh", "-p", str(remote.port), "-o", "BatchMode=yes",
               "-o", f"UserKnownHostsFile={config.KIM_DIR / 'ssh_known_hosts'}",
               "-o", "StrictHostKeyChecking=accept-new", "-o", "ConnectTimeout=10"]
    if remote.ssh_key:
        command += ["-i", remote.ssh_key, "-o", "IdentitiesOnly=yes"]
    return command


def base_command(remote: Remote) -> list[str]:
    """``rsync`` with the configured flags, the log file flag, timeouts and the transport."""
    command = ["rsync", *shlex.split(settings.RSYNC_FLAGS), *SAFETY_FLAGS,
               f"--timeout={settings.RSYNC_TIMEOUT}"]
    log_flag = getattr(settings, "RSYNC_LOG_FILE_FLAG", "")
    if log_flag:
        command += shlex.split(log_flag)
        for word in shlex.split(log_flag):
            if word.startswith("--log-file="):
                Path(word.split("=", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    if remote.kind == "daemon":
        command.append(f"--contimeout={min(settings.RSYNC_TIMEOUT, 30)}")
    else:
        # rsync joins -e's words itself and runs ssh without a shell.
        command += ["-e", shlex.join(ssh_command(remote))]
    return command


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    attempts: int


def _last_words(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-3:])


def run(remote: Remote, args: list[str], *, area: str, asked: str,
        files: list[str] | None = None) -> Outcome:
    """Run ``rsync base args`` with ``files`` through --files-from; retry transient failures.

    Raises PipelineSyncError (address, area, what was asked, exit code, last words) when it
    does not go through within RSYNC_RETRIES extra attempts.
    """
    retries = int(settings.RSYNC_RETRIES)
    delay = float(settings.RSYNC_BACKOFF)
    with tempfile.TemporaryDirectory(prefix="kim-rsync-") as tmp:
        command = base_command(remote)
        if files is not None:
            list_file = Path(tmp) / "files-from"
            list_file.write_text("".join(f"{name}\n" for name in files))
            command.append(f"--files-from={list_file}")
        command += args
        attempt = 0
        while True:
            attempt += 1
            try:
                proc = subprocess.run(command, capture_output=True, text=True,
                                      timeout=settings.RSYNC_TIMEOUT + 30, stdin=subprocess.DEVNULL)
                code, out, err = proc.returncode, proc.stdout, proc.stderr
            except subprocess.TimeoutExpired as exc:
                code, out, err = 30, "", f"no answer within {settings.RSYNC_TIMEOUT + 30} s ({exc})"
            if code == 0:
                return Outcome(0, out, attempt)
            # A negative code: rsync was killed by a signal (a worker killed mid-transfer).
            transient = code in TRANSIENT_EXIT_CODES or code < 0
            words = _last_words(err) or f"killed by signal {-code}" if code < 0 else _last_words(err)
            if not transient or attempt > retries:
                raise PipelineSyncError(
                    f"rsync failed after {attempt} attempt(s)", address=remote.address, area=area,
                    asked=asked, exit_code=code, last_words=words, transient=transient)
            log.warning("rsync %s (%s) failed with exit code %s, attempt %s, retrying in %.1f s: %s",
                        asked, area, code, attempt, delay, words)
            time.sleep(delay)
            delay = min(delay * 2 if delay else 0, float(settings.RSYNC_BACKOFF_MAX))


def fetch(remote: Remote, area: str, paths: list[str], dest, *, asked: str, extra=()) -> Outcome:
    """Copy ``paths`` (relative to the area) from the remote into ``dest``, keeping the relative paths.

    Over ssh the list goes through --files-from. A daemon gets the paths as sources with the
    seed's ``/./`` anchor instead: rsync 3.5.0's daemon, as sender, reports files of a
    --files-from list whose names hold a dot as "vanished" (exit 24) and does not send them.
    """
    if not paths:
        return Outcome(0, "", 0)
    args = ["-r", "--relative", *extra]
    if remote.kind == "daemon":
        base = remote.url(area).rstrip("/")
        return run(remote, [*args, *(f"{base}/./{p}" for p in paths), f"{dest}/"], area=area, asked=asked)
    return run(remote, [*args, remote.url(area), f"{dest}/"], area=area, asked=asked, files=paths)


@dataclass(frozen=True)
class Entry:
    """One line of ``rsync --list-only``."""

    mode: str
    size: int
    path: str
    target: str = ""

    @property
    def is_dir(self) -> bool:
        return self.mode.startswith("d")

    @property
    def is_link(self) -> bool:
        return self.mode.startswith("l")

    @property
    def is_regular(self) -> bool:
        return self.mode.startswith("-")


def listing(remote: Remote, area: str, paths: list[str], *, asked: str) -> list[Entry]:
    """Recursive listing of ``paths`` (relative to the area) on the remote; missing ones are left out."""
    # With --files-from rsync lists only when given a destination; nothing is written to it.
    with tempfile.TemporaryDirectory(prefix="kim-rsync-list-") as dest:
        outcome = run(remote, ["-r", "--list-only", "--ignore-missing-args", remote.url(area), f"{dest}/"],
                      area=area, asked=asked, files=paths)
    entries = []
    for line in outcome.stdout.splitlines():
        fields = line.split(None, 4)
        if len(fields) < 5 or len(fields[0]) != 10:
            continue
        mode, size, _date, _time, name = fields
        target = ""
        if mode.startswith("l") and " -> " in name:
            name, target = name.split(" -> ", 1)
        entries.append(Entry(mode, int(size.replace(",", "").replace(".", "")), name, target))
    return entries
