"""The keeper of one shim's connection: reads its request, enters its sandbox, forks the job.

It refuses (the shim then execs the real interpreter) an invocation the warm path does not
cover or an environment that a pre-imported module would have read differently; else it joins
the shim's pids cgroup, reads its resource limits, enters its namespaces, forks the job process
(``warm_job``) into the job's PID namespace, waits for it (killing its session if the shim goes
away), reports its usage to the server and its wait status to the shim. Part of ``server.py``.
"""

import ctypes
import json
import os
import select
import signal
import socket
import struct
import sys

from warm_job import become_job, check, die_with_parent

#: Variables that may differ between the server's start and a job without any pre-imported
#: module having read them (they are re-read from os.environ at use).
PER_JOB_VARIABLES = frozenset({"HOME", "MPLCONFIGDIR", "KIM_PIPELINE_RUN", "PWD", "OLDPWD",
                               "SHLVL", "_", "TMPDIR"})
#: Interpreter options a job process can honour after the fact.
SIMPLE_OPTIONS = frozenset({"-u", "-B"})
REQUEST_LIMIT = 4 << 20  # bytes of argv + environment (the kernel's own ARG_MAX is 2 MiB)
#: The user namespace last: the others may be owned by an outer one (bwrap as root unshares
#: them before it), where only the host's root may join them.
NAMESPACES = ("ipc", "uts", "net", "cgroup", "pid", "mnt", "user")
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 1, 38, 24
LIMITS = ("RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE",
          "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_STACK", "RLIMIT_MEMLOCK")

_libc = ctypes.CDLL(None, use_errno=True)


class Refused(Exception):
    """An invocation the warm path does not cover: the shim runs the real interpreter."""


def plan_of(argv: list[str], cwd: str) -> tuple[str, str, list[str], bool]:
    """(kind, target, arguments, unbuffered) of ``python3 [-u] [-B] (script | -c code | -m module) args``."""
    unbuffered, rest = False, argv[1:]
    while rest and rest[0] in SIMPLE_OPTIONS:
        unbuffered |= rest.pop(0) == "-u"
    if not rest:
        raise Refused("no script")
    first = rest[0]
    if first in ("-c", "-m"):
        if len(rest) < 2:
            raise Refused(f"{first} without its argument")
        return ("command" if first == "-c" else "module"), rest[1], rest[2:], unbuffered
    if first.startswith("-"):
        raise Refused(f"the option {first}")
    if not os.path.isfile(os.path.join(cwd, first)):
        raise Refused("not a file")  # the real interpreter says so in its own words
    return "script", first, rest[1:], unbuffered


def environment_of(entries: list[bytes]) -> dict[str, str]:
    found = {}
    for entry in entries:
        name, sep, value = entry.partition(b"=")
        if sep:
            found[os.fsdecode(name)] = os.fsdecode(value)
    return found


def check_environment(job: dict[str, str], started: dict[str, str]) -> None:
    for name in (job.keys() | started.keys()) - PER_JOB_VARIABLES:
        if job.get(name) != started.get(name):
            raise Refused(f"{name} differs from the server's")


def receive(conn: socket.socket) -> tuple[list[str], str, dict[str, str], list[int]]:
    conn.settimeout(10)
    head, fds, _flags, _address = socket.recv_fds(conn, 4, 3)
    if len(head) != 4 or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise Refused("a malformed request")
    (size,) = struct.unpack("=I", head)
    if size > REQUEST_LIMIT:
        raise Refused("a request above the limit")
    data = bytearray()
    while len(data) < size:
        chunk = conn.recv(min(1 << 16, size - len(data)))
        if not chunk:
            raise Refused("a truncated request")
        data += chunk
    parts = bytes(data).split(b"\0")[:-1]
    count = int(parts[0])
    argv = [os.fsdecode(p) for p in parts[1:1 + count]]
    return argv, os.fsdecode(parts[1 + count]), environment_of(parts[2 + count:]), fds


def join_cgroup(pid: int) -> None:
    """Into the shim's pids cgroup (v1 here; v2's unified hierarchy the same way)."""
    with open(f"/proc/{pid}/cgroup") as handle:
        for line in handle:
            _number, controllers, path = line.rstrip("\n").split(":", 2)
            if "pids" in controllers.split(",") and path != "/":
                with open(f"/sys/fs/cgroup/pids{path}/cgroup.procs", "w") as procs:
                    procs.write("0")


def enter_namespaces(pid: int) -> None:
    """setns into each namespace of ``pid`` that is not already ours (none with the sandbox off)."""
    opened = []
    for kind in NAMESPACES:
        theirs, ours = f"/proc/{pid}/ns/{kind}", f"/proc/self/ns/{kind}"
        try:
            if os.stat(theirs).st_ino != os.stat(ours).st_ino:
                opened.append((kind, os.open(theirs, os.O_RDONLY | os.O_CLOEXEC)))
        except FileNotFoundError:  # a kernel without that namespace kind
            continue
    for kind, fd in opened:
        check(_libc.setns(fd, 0), f"setns({kind})")
        os.close(fd)


def keep(conn: socket.socket, started: dict[str, str], report: socket.socket) -> None:
    """In the keeper (a fork of the server): serve one shim; never returns."""
    code = 0
    try:
        code = _keep(conn, started, report)
    except BaseException as exc:  # the shim then runs the real interpreter
        print(f"keeper failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        code = 1
    os._exit(code)


def _keep(conn, started, report) -> int:
    try:
        argv, cwd, env, fds = receive(conn)
    except (Refused, OSError, ValueError, IndexError) as why:
        print(f"cold: a request that could not be read: {why}", file=sys.stderr, flush=True)
        conn.sendall(struct.pack("=i", 0))
        return 0
    try:
        plan = plan_of(argv, cwd)
        check_environment(env, started)
    except Refused as why:
        # Said on the server's stderr (the worker's log of it): why this one ran cold.
        print(f"cold: {' '.join(argv)[:200]}: {why}", file=sys.stderr, flush=True)
        conn.sendall(struct.pack("=i", 0))
        return 0
    peer, _uid, _gid = struct.unpack("=iII", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    die_with_parent()
    import resource

    limits = [(getattr(resource, name), resource.prlimit(peer, getattr(resource, name)))
              for name in LIMITS if hasattr(resource, name)]
    join_cgroup(peer)
    enter_namespaces(peer)
    # Armed again: a change of credentials (entering a user namespace) may disarm it.
    die_with_parent()
    keeper = os.getpid()
    child = os.fork()
    if child == 0:
        conn.detach()
        report.detach()
        become_job(plan, cwd, env, fds, limits, keeper)
    for fd in fds:
        os.close(fd)
    try:
        conn.sendall(struct.pack("=i", 1))
    except OSError:
        # The shim is gone already (killed while this keeper was not yet scheduled): the wait
        # below sees it and kills the job, which would otherwise be left to its parent-death
        # signal and then, unreaped, to the worker (a subreaper).
        pass
    status, usage = _wait(child, conn)
    tag = env.get("KIM_PIPELINE_RUN", "")
    try:
        report.send(json.dumps({"tag": tag, "utime": usage.ru_utime, "stime": usage.ru_stime,
                                "maxrss": usage.ru_maxrss}).encode())
    except OSError:
        pass
    try:
        conn.sendall(struct.pack("=i", status))
    except OSError:
        pass
    return 0


def _peek(conn: socket.socket) -> bytes:
    """A byte from the shim, left unread; nothing once it is gone (EOF, or a reset)."""
    try:
        return conn.recv(1, socket.MSG_PEEK)
    except OSError:
        return b""


def _wait(child: int, conn: socket.socket):
    """Wait for the job process; if the shim goes away first, kill its session."""
    pidfd = os.pidfd_open(child)
    conn.setblocking(True)
    while True:
        ready, _, _ = select.select([pidfd, conn], [], [])
        if pidfd in ready:
            break
        if not _peek(conn):  # EOF: the shim died (killed with its job)
            for kill in (lambda: os.killpg(child, signal.SIGKILL), lambda: os.kill(child, signal.SIGKILL)):
                try:
                    kill()
                except ProcessLookupError:
                    pass
            break
    _pid, status, usage = os.wait4(child, 0)
    os.close(pidfd)
    return status, usage


