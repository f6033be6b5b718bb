"""The sandbox of every run: bubblewrap namespaces, an environment allowlist, resource limits.

A run sees read-only the folders it needs (``/usr``, a few files of ``/etc``, the Python
environment, the repository, the builds, the KIM API collections), its scratch copy writable,
a private ``/tmp``, no network, its own PID namespace (every process it starts dies with it)
and an unprivileged user. The sandbox is a wrapper around the command (``Sandbox.command``)
plus limits applied before exec (by ``runner/launch.c``, ``Sandbox.launcher``, or in a forked
child, ``Sandbox.apply_limits``), so a runner that
forks from a warm server can be wrapped the same way. ``PIPELINE_SANDBOX=off`` keeps only the
environment allowlist and the limits (``manage.py check`` warns).
"""

import os
import re
import resource
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.conf import settings

from runner import native
from runner.processes import child_setup
from runner.sandbox_etc import etc_arguments

#: Variables a run keeps from the worker's environment; everything else (DATABASE_URL,
#: KIM_DIR, KIM_REPOSITORY_DIR, SECRET_KEY, REDIS_URL …) is dropped.
ALLOWED_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "KIM_API_CONFIGURATION_FILE",
                     "LIBC_FATAL_STDERR_", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "KIM_PIPELINE_RUN")
#: Top-level names that are links into /usr on a merged-/usr system (else bound read-only).
ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
#: The uid and gid a run has inside its user namespace.
SANDBOX_UID = 65534
#: What a run prints when a write fails under RLIMIT_FSIZE (pid 1 ignores SIGXFSZ: EFBIG).
FILE_SIZE_WORDS = re.compile(r"File too large|EFBIG")
#: What a run prints when the scratch folder's disk is full.
DISK_WORDS = re.compile(r"No space left on device|ENOSPC|Disk quota exceeded")
#: What a run prints when an allocation fails under RLIMIT_AS.
MEMORY_WORDS = re.compile(r"MemoryError|std::bad_alloc|Cannot allocate memory|out of memory",
                          re.IGNORECASE)
PIDS_CGROUP = Path("/sys/fs/cgroup/pids")
LAUNCHER_SOURCE = Path(__file__).resolve().parent / "launch.c"


def enabled() -> bool:
    return str(settings.PIPELINE_SANDBOX).lower() not in ("off", "0", "false", "no")


def bwrap() -> str | None:
    return shutil.which("bwrap")


def environment(env: dict, home: Path, keep=()) -> dict:
    """The allowlisted environment of a run (and the ``keep`` names), HOME in its scratch folder."""
    kept = {name: env[name] for name in (*ALLOWED_VARIABLES, *keep) if name in env}
    kept["HOME"] = str(home)
    kept.setdefault("LANG", "C.UTF-8")
    kept["MPLCONFIGDIR"] = str(home / ".matplotlib")
    # No __pycache__ written into an item's folder (it would change the item's content hash).
    kept["PYTHONDONTWRITEBYTECODE"] = "1"
    return kept


def python_roots() -> list[Path]:
    """The Python environment: the venv and the interpreter it was made from."""
    return [Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent]


@cache
def _fixed_arguments() -> tuple[str, ...]:
    """What every run's bwrap is given before its own folders; the same for a worker's life."""
    args = ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            # The runner is the namespace's pid 1 (no bwrap init between): wait4 then sees
            # its user time and peak memory, and every process it left dies when it exits.
            "--unshare-pid", "--as-pid-1", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--hostname", "sandbox"]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ROOT_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return (*args, "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp")


@cache
def _python_roots_found() -> frozenset[Path]:
    return frozenset(path.resolve() for path in python_roots() if path.exists())


@dataclass
class Sandbox:
    """One run's sandbox: its writable folder, what it may read, its limits."""

    scratch: Path
    readable: list[Path] = field(default_factory=list)
    cgroup: Path | None = None
    refused: int = 0  # forks the pids cgroup refused, read when the run is released

    # -- the command ---------------------------------------------------------------------

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` wrapped in bubblewrap (as it is when the sandbox is off)."""
        if not enabled():
            return list(argv)
        program = bwrap()
        if program is None:
            raise OSError("PIPELINE_SANDBOX is on but bwrap is not installed")
        args = [program, *_fixed_arguments(), *etc_arguments()]
        # Parents before children, so the writable scratch folder lands inside a read-only tree.
        readable = {*_python_roots_found(),
                    *(Path(p).resolve() for p in self.readable if Path(p).exists())}
        for path in sorted(readable, key=lambda p: len(p.parts)):
            args += ["--ro-bind", str(path), str(path)]
        # The extra writable folders after the read-only ones: they win where they overlap.
        for path in settings.PIPELINE_SANDBOX_WRITABLE:
            if Path(path).is_dir():
                args += ["--bind", str(Path(path).resolve()), str(Path(path).resolve())]
        args += ["--bind", str(self.scratch.resolve()), str(self.scratch.resolve())]
        args += ["--chdir", str(self.scratch.resolve()), "--"]
        return args + list(argv)

    # -- the limits ----------------------------------------------------------------------

    def prepare(self) -> None:
        """Make the run's pids cgroup where this machine lets us (else RLIMIT_NPROC)."""
        if not PIDS_CGROUP.is_dir() or not os.access(PIDS_CGROUP, os.W_OK):
            return
        _remove_left_cgroups(PIDS_CGROUP / "kim-pipeline")
        try:
            group = PIDS_CGROUP / "kim-pipeline" / uuid.uuid4().hex
            group.mkdir(parents=True)
            (group / "pids.max").write_text(str(settings.RUNNER_PROCESS_LIMIT))
            self.cgroup = group
        except OSError:
            self.cgroup = None

    def rlimits(self) -> list[tuple[int, int]]:
        """The resource limits of the run: (RLIMIT_…, value), those that are set."""
        limits = [(resource.RLIMIT_AS, settings.RUNNER_MEMORY_LIMIT), (resource.RLIMIT_CORE, 0),
                  (resource.RLIMIT_FSIZE, settings.RUNNER_FILE_SIZE_LIMIT),
                  (resource.RLIMIT_NOFILE, settings.RUNNER_OPEN_FILES_LIMIT)]
        if self.cgroup is None and os.getuid() != 0:  # root's processes never count against NPROC
            limits.append((resource.RLIMIT_NPROC, settings.RUNNER_PROCESS_LIMIT))
        # A limit of 0 in the settings means none, but no core file is ever written.
        return [(which, value) for which, value in limits
                if (value or 0) > 0 or which == resource.RLIMIT_CORE]

    def apply_limits(self) -> None:
        """In the child between fork and exec: the rlimits, and the pids cgroup."""
        if self.cgroup is not None:
            with open(self.cgroup / "cgroup.procs", "w") as handle:
                handle.write("0")
        for which, value in self.rlimits():
            resource.setrlimit(which, (value, value))

    def launcher(self, parent: int) -> list[str] | None:
        """The argv prefix that does what ``child_setup(apply_limits)`` does, after exec
        (``runner/launch.c``), so the worker is not forked; None without a C compiler."""
        try:
            program = native.compiled(LAUNCHER_SOURCE, "kim-launch")
        except native.NotCompiled:
            return None
        values = dict(self.rlimits())
        order = (resource.RLIMIT_AS, resource.RLIMIT_CORE, resource.RLIMIT_FSIZE,
                 resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC)
        procs = str(self.cgroup / "cgroup.procs") if self.cgroup is not None else "-"
        return [str(program), str(parent), procs, *(str(values.get(w, -1)) for w in order), "--"]

    def processes_refused(self) -> int:
        """How many forks the pids cgroup refused during the run."""
        if self.cgroup is None:
            return 0
        try:
            text = (self.cgroup / "pids.events").read_text()
        except OSError:
            return 0
        found = re.search(r"max\s+(\d+)", text)
        return int(found[1]) if found else 0

    def run(self, argv: list[str], **popen) -> subprocess.Popen:
        """Start ``argv`` in this sandbox (a build step): limits applied, PDEATHSIG set."""
        return subprocess.Popen(self.command(argv), preexec_fn=child_setup(self.apply_limits),
                                **popen)

    def release(self) -> None:
        self.refused = self.processes_refused()
        if self.cgroup is not None:
            try:
                self.cgroup.rmdir()
            except OSError:
                pass  # a process still dying: the next run's cleanup is the kernel's own


def _remove_left_cgroups(root: Path, older_than: float = 60) -> None:
    """Remove the empty pids cgroups of runs whose worker died before releasing them.

    A live run's cgroup holds processes (rmdir fails); a fresh one may still be joined: kept.
    """
    now = time.time()
    try:
        groups = list(root.iterdir())
    except OSError:
        return
    for group in groups:
        try:
            if now - group.stat().st_mtime > older_than:
                group.rmdir()
        except OSError:
            continue


def folder_size(folder: Path, stop: int) -> int:
    """Bytes of the regular files below ``folder`` (links not followed), counted up to ``stop``."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
            if total > stop:
                return total
    return total


def _disk_full(folder: Path) -> bool:
    """The scratch folder's file system has (next to) no block left for an unprivileged writer."""
    try:
        found = os.statvfs(folder)
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < 64 * 1024


def start_failure(exit_code: int | None, stderr_head: str) -> str | None:
    """bwrap's report that the runner could not be executed (a bad interpreter line…), or None."""
    first = stderr_head.splitlines()[0] if stderr_head.strip() else ""
    if exit_code == 1 and first.startswith("bwrap: execvp "):
        return first.removeprefix("bwrap: ")
    if exit_code == 126 and first.startswith("kim-launch: "):
        return first.removeprefix("kim-launch: ")
    return None


def limit_reached(run, stderr_tail: str, sandbox: Sandbox) -> str | None:
    """Which limit a failed run hit, in words, or None (then it is the runner's own fault)."""
    exit_code = run.exit_code
    if exit_code in (-25, 153) or FILE_SIZE_WORDS.search(stderr_tail or ""):  # SIGXFSZ, 128 + it
        return f"a file reached RUNNER_FILE_SIZE_LIMIT ({settings.RUNNER_FILE_SIZE_LIMIT} bytes)"
    if DISK_WORDS.search(stderr_tail or "") or _disk_full(sandbox.scratch) or any(
            "write_error" in stream for stream in (run.output or {}).values()):
        return "the disk of its scratch folder is full"
    if MEMORY_WORDS.search(stderr_tail or ""):
        return f"memory ran out under RUNNER_MEMORY_LIMIT ({settings.RUNNER_MEMORY_LIMIT} bytes)"
    if sandbox.refused:
        return f"it tried to start more than RUNNER_PROCESS_LIMIT ({settings.RUNNER_PROCESS_LIMIT}) processes"
    return None


__all__ = ["Sandbox", "enabled", "environment", "folder_size", "limit_reached", "bwrap",
           "start_failure",
           "ALLOWED_VARIABLES"]
