"""The warm server: imports the heavy modules once, then forks each job's Python processes.

Started by its worker (``runner.warm.client``) as ``python server.py <warm folder>`` with a
job's environment (the sandbox's allowlist, thread pools of one), it is a plain script: it
never imports Django or the project, and it never runs test code itself. Each connection on
``<warm>/server.sock`` comes from the ``python3`` shim (``shim.c``) on a job's PATH and is
served by a fork (the *keeper*) that:

1. reads the shim's argv, folder, environment and file descriptors 0-2, and refuses (the shim
   then execs the real interpreter) an invocation it does not cover or an environment that a
   pre-imported module would have read differently;
2. joins the shim's pids cgroup, copies its resource limits, enters its namespaces (user,
   mount, network, IPC, UTS, cgroup, PID: the job's sandbox), and forks the *job process*,
   which is in the job's PID namespace and dies with it;
3. waits for it (killing its session if the shim goes away), reports its user time and peak
   memory to this server (read by the worker after the job, as the job's own accounting) and
   its wait status to the shim, which ends the same way.

The job process drops every capability, sets no-new-privileges, starts a session of its own,
gets the parent-death signal, takes the job's folder, environment, argv, ``sys.path[0]`` and
standard streams, reseeds the random generators, and runs the script as ``__main__`` with
Python's exit semantics. Each job process is a fresh fork of this pristine server, so nothing
of one job survives into the next.

Control, on stdin/stdout (the worker's pipes): a line ``<run tag>`` is answered with a JSON
line of what the job processes of that run used (``{"jobs", "utime", "stime", "maxrss"}``),
and forgotten; ``ping`` is answered ``{"pong": ..., "threads": ...}``.
"""

import json
import os
import select
import socket
import struct
import sys

from warm_job import die_with_parent
from warm_keeper import keep

# Sized before numpy loads: the server must be single-threaded when it forks.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

#: What every Python test of this field imports; each is optional (kim_tools may be absent).
PRELOAD = ("numpy", "scipy", "scipy.optimize", "scipy.linalg", "scipy.interpolate",
           "scipy.spatial", "ase", "ase.build", "ase.units", "ase.lattice.cubic",
           "ase.calculators.kim", "ase.optimize", "ase.eos", "kimpy", "kim_edn", "kim_property",
           "kim_tools")


def preload() -> list[str]:
    loaded = []
    for name in PRELOAD:
        try:
            __import__(name)
            loaded.append(name)
        except Exception:  # an optional module absent or broken: its jobs import it themselves
            pass
    return loaded


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


class Accounts:
    """What the job processes of each run used, until the worker asks for it."""

    def __init__(self):
        self.runs: dict[str, dict] = {}

    def add(self, report: dict) -> None:
        run = self.runs.setdefault(report["tag"], {"jobs": 0, "utime": 0.0, "stime": 0.0, "maxrss": 0})
        run["jobs"] += 1
        run["utime"] += report["utime"]
        run["stime"] += report["stime"]
        run["maxrss"] = max(run["maxrss"], report["maxrss"])

    def take(self, tag: str) -> dict:
        return self.runs.pop(tag, {"jobs": 0, "utime": 0.0, "stime": 0.0, "maxrss": 0})


def serve(folder: str) -> None:
    die_with_parent()
    loaded = preload()
    started = dict(os.environ)
    path = os.path.join(folder, "server.sock")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o777)  # the job's user (another uid in its namespace) connects
    reports, report = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    taken, took = os.pipe()
    accounts = Accounts()
    threads = thread_count()
    # Said before listen(): a shim connects only after it, so a worker that sees no ready line
    # after a job knows no process of it was forked here (the worker never waits for it).
    print(json.dumps({"ready": True, "loaded": loaded, "threads": threads}), flush=True)
    listener.listen(64)
    # One keeper is always forked in advance and waiting in accept(): a job then pays for one
    # fork (the job process's), not two.
    spare = _spare(listener, started, report, reports, took) if threads == 1 else None
    control = sys.stdin.buffer
    while True:
        ready, _, _ = select.select([taken, reports, control] + ([listener] if spare is None else []), [], [])
        _drain(reports, accounts)
        ended = _reap()
        if spare is not None and (taken in ready or spare in ended):
            if taken in ready:
                os.read(taken, 64)
            spare = _spare(listener, started, report, reports, took)
        if listener in ready:
            conn, _ = listener.accept()
            if threads > 1:  # never fork a threaded process: every request runs cold
                conn.sendall(struct.pack("=i", 0))
                conn.close()
                continue
            if os.fork() == 0:
                listener.close()
                reports.close()
                keep(conn, started, report)
            conn.close()
        if control in ready:
            line = control.readline()
            if not line:
                return  # the worker closed its end: it is gone
            _drain(reports, accounts)
            request = line.decode().strip()
            answer = ({"pong": True, "threads": thread_count()} if request == "ping"
                      else accounts.take(request))
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()


def _drain(reports: socket.socket, accounts: Accounts) -> None:
    while True:
        try:
            accounts.add(json.loads(reports.recv(4096, socket.MSG_DONTWAIT)))
        except BlockingIOError:
            return
        except (ValueError, KeyError):
            continue


def _spare(listener, started, report, reports, took) -> int:
    """Fork a keeper that waits for the next shim; it says when it took one."""
    pid = os.fork()
    if pid:
        return pid
    try:
        die_with_parent()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)  # the worker's pipes are the server's alone
        reports.close()
        conn, _ = listener.accept()
        os.write(took, b"x")
        listener.close()
    except BaseException:
        os._exit(1)
    keep(conn, started, report)


def _reap() -> set[int]:
    """Reap the keepers that ended; their pids."""
    ended = set()
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.add(pid)


if __name__ == "__main__":
    serve(sys.argv[1])
