"""Processes of a worker that never outlive their job: runners, builds, and what they leave.

Three kernel guarantees, not threads of the worker, end them:

* the runner gets a parent-death signal (``PR_SET_PDEATHSIG``), so a worker killed by the
  cluster's timeout, the OOM killer or a SIGKILL takes its runner with it;
* the worker is a child subreaper (``PR_SET_CHILD_SUBREAPER``), so a grandchild that leaves
  the runner's session is re-parented to the worker (not to init) and is killed and reaped
  when the runner exits or times out (with every other child it did not have before the run,
  so an orphan that cleared its environment dies too);
* every process of a run carries ``KIM_PIPELINE_RUN=<owner>/<scratch>`` in its environment,
  so ``runner.cleanup`` finds the strays of a worker that died before it could kill them.

Owners (``host:pid:start:boot``, whose runs, builds and scratch folders these are) are
``runner.owners``.
"""

import ctypes
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from runner.owners import stat_fields as _stat_fields

#: From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
#: The environment variable that marks every process of one run (inherited by its children).
RUN_VARIABLE = "KIM_PIPELINE_RUN"

_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl({option}, {value}): {os.strerror(errno)}")


def become_subreaper() -> None:
    """Orphans of this process's descendants are re-parented here (idempotent, per process)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent() -> None:
    """This process gets SIGKILL when its parent (the thread that forked it) ends."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def child_setup(then: Callable[[], None] | None = None) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets SIGKILL when this process (its forking thread) dies.

    ``then`` runs next, still before exec (the sandbox's limits).
    """
    parent = os.getpid()

    def setup() -> None:
        # In the child between fork and exec. PDEATHSIG fires when the forking *thread* exits:
        # run_process forks from the thread that waits for the run, which lives as long as it.
        die_with_parent()
        if os.getppid() != parent:  # the worker died before prctl took effect
            os._exit(1)
        if then is not None:
            then()
    return setup


# ---------------------------------------------------------------------------------------------
# Finding and killing a run's processes


#: pid → (parent pid, start time in clock ticks since boot), of every live process.
ProcessTable = dict[int, tuple[int, int]]


def process_table() -> ProcessTable:
    """One pass over /proc: what the searches below share (each pass costs about 1.5 ms)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(entry)) is not None:
            table[int(entry)] = (int(fields[1]), int(fields[19]))
    return table


def _descendants(pid: int, table: ProcessTable) -> list[int]:
    """Every live descendant of ``pid``, including those in other sessions."""
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tagged(match: Callable[[str], bool], *, started_since: int | None = None,
           table: ProcessTable | None = None) -> list[int]:
    """Pids of processes whose KIM_PIPELINE_RUN value satisfies ``match`` (own user's only).

    ``started_since`` (clock ticks since boot, with ``table``): only processes started then or
    later are read, since a run's processes cannot be older than its runner.
    """
    marker = RUN_VARIABLE.encode() + b"="
    if started_since is not None and table is not None:
        candidates = [pid for pid, (_, start) in table.items() if start >= started_since]
    else:
        candidates = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    found = []
    for pid in candidates:
        if pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:  # gone, or another user's
            continue
        for item in environ.split(b"\0"):
            if item.startswith(marker) and match(item[len(marker):].decode(errors="replace")):
                found.append(pid)
                break
    return found


def kill_all(pids) -> None:
    """SIGKILL these processes and reap those that were re-parented to this process."""
    _kill(pids)
    _reap_adopted(pids)


def _kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _reap_adopted(pids) -> None:
    """Reap the killed strays that were re-parented to this (subreaper) process."""
    me = str(os.getpid())
    for pid in pids:
        fields = _stat_fields(str(pid))
        if fields is not None and fields[1] == me:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def children(table: ProcessTable | None = None) -> set[tuple[int, int]]:
    """(pid, start time) of this process's direct children, run_process's ``spare``."""
    me = os.getpid()
    table = process_table() if table is None else table
    return {(pid, start) for pid, (parent, start) in table.items() if parent == me}


def _adopted(pid: int, spare: set[tuple[int, int]], table: ProcessTable) -> list[int]:
    """This subreaper's children but ``spare`` and ``pid``, with their descendants: a run's
    orphans, even those without its tag. Never one in this process's session: no process of
    a run (started in a session of its own) can join it."""
    session, found = os.getsid(0), []
    for child in children(table) - spare:
        try:
            if child[0] != pid and os.getsid(child[0]) != session:
                found += [child[0], *_descendants(child[0], table)]
        except ProcessLookupError:
            pass
    return found


def kill_tree(pid: int, run_tag: str | None = None,
              spare: set[tuple[int, int]] | None = None) -> None:
    """SIGKILL the process group of ``pid``, every descendant, and every process of ``run_tag``.

    With ``spare`` (this process's children() before it started ``pid``), also every other
    child this process has now: the orphans of the run re-parented here (a subreaper).
    """
    table = process_table()
    stray = _descendants(pid, table)
    if spare is not None:
        stray += [p for p in _adopted(pid, spare, table) if p not in stray]
    if run_tag is not None:
        since = table[pid][1] if pid in table else None
        stray += [p for p in tagged(lambda value: value == run_tag, started_since=since, table=table)
                  if p not in stray and p != pid]
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _kill(stray)
    _reap_adopted(stray)


# ---------------------------------------------------------------------------------------------
# Running one process


@dataclass
class ProcessRecord:
    exit_code: int | None
    timed_out: bool
    runtime: float
    usertime: float | None
    memmax: int | None  # KiB
    output: dict


class HeartbeatFailed(Exception):
    """The heartbeat raised: the run was stopped; ``cause`` is what the heartbeat raised."""

    def __init__(self, cause: BaseException):
        super().__init__(f"the heartbeat failed: {cause}")
        self.cause = cause


def _drain(stream, path: Path, limit: int, record: dict) -> None:
    """Copy a pipe to a file up to ``limit`` bytes; read and drop the rest so the child never blocks."""
    seen = kept = 0
    fd = stream.fileno()
    with open(path, "wb", buffering=0) as out:  # unbuffered: a full disk fails in write()
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            seen += len(chunk)
            if kept < limit:
                part = chunk[: limit - kept]
                try:
                    out.write(part)
                    kept += len(part)
                except OSError as exc:  # a full disk: keep reading, or the runner blocks
                    limit, record["write_error"] = kept, exc.strerror or str(exc)
    record.update(bytes=seen, kept=kept, truncated=seen > kept)


def _wait(pidfd: int, started: float, timeout: float,
          heartbeat: Callable[[], None] | None) -> bool:
    """Wait for the exit (or the limit) in this thread; beat meanwhile. True when timed out."""
    deadline = started + timeout
    every = max(0.05, float(settings.PIPELINE_HEARTBEAT_SECONDS))
    next_beat = started + every
    while True:
        now = time.monotonic()
        wake = min(deadline, next_beat) if heartbeat is not None else deadline
        # The pidfd is readable once the runner has exited: no polling, no timer thread.
        ready, _, _ = select.select([pidfd], [], [], max(0.0, wake - now))
        if ready:
            return False
        now = time.monotonic()
        if now >= deadline:
            return True
        if heartbeat is not None and now >= next_beat:
            try:
                heartbeat()
            except Exception as exc:
                raise HeartbeatFailed(exc) from exc
            next_beat = time.monotonic() + every


def run_process(command: list[str], *, cwd: Path, stdin_path: Path, stdout_path: Path,
                stderr_path: Path, env: dict, timeout: float, limit: int, run_tag: str,
                heartbeat: Callable[[], None] | None = None,
                limits: Callable[[], None] | None = None,
                launcher: Callable[[int], list[str] | None] | None = None,
                contained: bool = False) -> ProcessRecord:
    """Run ``command`` in its own session with a wall-clock limit; account time and memory.

    Everything it started is killed when it exits, times out, or this call is interrupted
    (e.g. by django-q2's timeout alarm); if this process dies, the kernel kills the runner.
    ``limits`` runs in the child before exec (``runner.sandbox.Sandbox.apply_limits``), unless
    ``launcher`` (``Sandbox.launcher``) gives the argv prefix of a program that sets the
    parent-death signal and the limits itself: then the worker is vforked, not forked.
    ``contained``: ``command`` makes the runner pid 1 of a PID namespace of its own (the
    sandbox), whose every process the kernel kills, and waits for, before the command exits;
    nothing is then left to look for in /proc after a run that ended (2 passes, ~5 ms a run).
    """
    become_subreaper()
    # This process's own children: never the run's to kill.
    spare = None if contained else children()
    output = {"stdout": {}, "stderr": {}}
    env = {**env, RUN_VARIABLE: run_tag}
    if heartbeat is not None:
        # Renewed just before the start (match, render and copy took part of the lease), so
        # even a run shorter than one heartbeat renews it; the next beat is one period on.
        try:
            heartbeat()
        except Exception as exc:
            raise HeartbeatFailed(exc) from exc
    prefix = launcher(os.getpid()) if launcher is not None else None
    started = time.monotonic()
    with open(stdin_path, "rb") as stdin:
        process = subprocess.Popen(
            [*prefix, *command] if prefix else command, stdin=stdin, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=cwd, env=env, start_new_session=True, close_fds=True,
            preexec_fn=None if prefix else child_setup(limits))
    readers = [
        threading.Thread(target=_drain, args=(process.stdout, stdout_path, limit, output["stdout"]),
                         daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, stderr_path, limit, output["stderr"]),
                         daemon=True),
    ]
    pidfd = os.pidfd_open(process.pid)
    timed_out = ended = False
    try:
        for reader in readers:
            reader.start()
        timed_out = _wait(pidfd, started, timeout, heartbeat)
        if timed_out:
            kill_tree(process.pid, run_tag)
        # WNOWAIT leaves the runner a zombie: its pid (and so its group id) cannot be reused
        # while we kill what it left behind.
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        runtime = time.monotonic() - started
        ended = not timed_out
    finally:
        os.close(pidfd)
        if not (contained and ended):  # interrupted, timed out, or not in a namespace
            kill_tree(process.pid, run_tag, spare)
        # wait4 rather than Popen.wait: it reaps and returns the rusage (user time, max RSS).
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        for reader in readers:
            reader.join(timeout=10)
        for stream in (process.stdout, process.stderr):
            stream.close()
    return ProcessRecord(
        exit_code=process.returncode, timed_out=timed_out, runtime=runtime,
        usertime=usage.ru_utime, memmax=usage.ru_maxrss, output=output,
    )


__all__ = ["run_process", "kill_tree", "ProcessRecord", "HeartbeatFailed", "become_subreaper",
           "child_setup", "tagged", "RUN_VARIABLE", "kill_all", "children", "process_table"]
