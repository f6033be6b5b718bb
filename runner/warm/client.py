"""The worker's side of the pre-warmed runner: its warm server, the shim, the accounting.

Each worker process keeps one warm server (``server.py``), started at its first job with the
environment its jobs get, restarted when it died or when that environment changed. A job's
PATH starts with ``<warm>/bin``, whose ``python3`` and ``python`` are the shim (``shim.c``,
compiled here once per machine with the system's C compiler): every Python process of the job
(a Python ``runner``, the driver a shell runner hands its input to, a ``subprocess`` of either)
is forked from the server instead of exec'ing a fresh interpreter. What the forks used (user
time, peak memory) is read from the server after the job and counted as the job's.

Anything missing (no C compiler, a server that does not start or is not single-threaded)
leaves the run as it is without the warm path: the shim is then absent from PATH, or becomes
the real interpreter. ``PIPELINE_PREWARM=0`` turns it off.
"""

import json
import logging
import os
import select
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from kimsite import config
from runner import native, processes, provenance

logger = logging.getLogger("pipeline.runner.warm")

HERE = Path(__file__).resolve().parent
SHIM_SOURCE = HERE / "shim.c"
SERVER_SCRIPT = HERE / "server.py"
#: Variables that differ from job to job; the server's other variables must equal the job's.
PER_JOB_VARIABLES = frozenset({"HOME", "MPLCONFIGDIR", processes.RUN_VARIABLE})


def enabled() -> bool:
    return str(settings.PIPELINE_PREWARM).lower() not in ("off", "0", "false", "no")


class WarmUnavailable(Exception):
    """The warm path cannot be used on this machine or in this worker (said once, in the log)."""


def shim_binary() -> Path:
    """The compiled shim, built once per source version into the pipeline's folder."""
    try:
        return native.compiled(SHIM_SOURCE, "python3-shim")
    except native.NotCompiled as exc:
        raise WarmUnavailable(f"the python3 shim: {exc}") from exc


@dataclass
class Usage:
    jobs: int = 0
    utime: float = 0.0
    maxrss: int = 0  # KiB


class WarmServer:
    """One worker's warm server and its folder (``bin/``, ``server.sock``, ``interpreter``)."""

    def __init__(self, environment: dict[str, str]):
        """``environment``: the jobs' (without the warm PATH); the server gets it with the warm
        PATH and a HOME of its own, as each job gets it with its own HOME."""
        self.folder = Path(tempfile.mkdtemp(prefix=f"kim-warm-{os.getpid()}-"))
        self.environment = environment
        self.owner_pid = os.getpid()
        bin_folder = self.folder / "bin"
        bin_folder.mkdir()
        # A copy, not a link: the shim finds its folder from /proc/self/exe.
        shutil.copy2(shim_binary(), bin_folder / "python3")
        os.symlink("python3", bin_folder / "python")
        os.symlink(str(Path(provenance.interpreter_bin()) / "python3"), self.folder / "interpreter")
        (self.folder / "home").mkdir()
        self.folder.chmod(0o755)
        self.process = subprocess.Popen(
            [str(Path(provenance.interpreter_bin()) / "python3"), str(SERVER_SCRIPT), str(self.folder)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log(),
            env={**with_warm_path(environment, bin_folder), "HOME": str(self.folder / "home"),
                 "MPLCONFIGDIR": str(self.folder / "home" / ".matplotlib")},
            cwd=self.folder, start_new_session=True, close_fds=True,
            preexec_fn=processes.child_setup())
        # Not waited for: a job that starts before the imports are done runs cold (its shim
        # finds no listening socket), so a worker's first job never waits ~3 s for them.
        self.ready = False
        logger.info("warm server %s starting in %s", self.process.pid, self.folder)

    def _log(self):
        """The server's stderr (why an invocation ran cold): logs/warm-server.log."""
        folder = config.KIM_DIR / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        return open(folder / "warm-server.log", "ab")

    @property
    def bin(self) -> Path:
        return self.folder / "bin"

    def alive(self) -> bool:
        return self.process.poll() is None and self.owner_pid == os.getpid()

    def _answer(self, timeout: float) -> dict:
        """The server's next line, waiting at most ``timeout`` seconds; {} without one."""
        stdout = self.process.stdout
        ready, _, _ = select.select([stdout], [], [], timeout)
        if not ready:
            return {}
        line = stdout.readline()
        try:
            return json.loads(line) if line else {}
        except ValueError:
            return {}

    def _ready(self) -> bool:
        """Whether the server said it listens (read without waiting)."""
        if not self.ready:
            said = self._answer(0)
            if said.get("ready"):
                self.ready = True
                logger.info("warm server %s ready with %s (%s threads)", self.process.pid,
                            ", ".join(said.get("loaded", [])), said.get("threads"))
        return self.ready

    def wait_ready(self, timeout: float = 120) -> bool:
        """Wait until the server listens (benchmarks and tests that want every run warm)."""
        if not self.ready and self.process.poll() is None:
            said = self._answer(timeout)
            self.ready = bool(said.get("ready"))
        if self.ready:
            # The ready line comes just before listen(): a ping is answered by the server's
            # loop, after it, so what connects from now on is served warm.
            try:
                self.process.stdin.write(b"ping\n")
                self.process.stdin.flush()
            except OSError:
                return False
            return bool(self._answer(timeout).get("pong"))
        return False

    def usage(self, run_tag: str) -> Usage:
        """What the forks of ``run_tag`` used (and forget it); nothing when the server is gone
        or was not listening yet (then none of the run's processes was forked there)."""
        if not self._ready():
            return Usage()
        try:
            self.process.stdin.write(run_tag.encode() + b"\n")
            self.process.stdin.flush()
            found = self._answer(10)
        except (OSError, ValueError):
            found = {}
        return Usage(jobs=int(found.get("jobs", 0)),
                     utime=float(found.get("utime", 0.0)),
                     maxrss=int(found.get("maxrss", 0)))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


_server: WarmServer | None = None
_unavailable: str | None = None


def comparable(environment: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environment.items() if k not in PER_JOB_VARIABLES}


def server_for(environment: dict[str, str]) -> WarmServer | None:
    """This worker's warm server for jobs of ``environment`` (started or restarted as needed),
    or None when the warm path is off or unavailable here."""
    global _server, _unavailable
    if not enabled() or _unavailable is not None:
        return None
    if _server is not None and not (_server.alive()
                                    and comparable(_server.environment) == comparable(environment)):
        if _server.owner_pid == os.getpid():
            _server.stop()
        _server = None
    if _server is None:
        _remove_left_folders()
        try:
            _server = WarmServer(environment)
        except (WarmUnavailable, OSError) as exc:
            _unavailable = str(exc)
            logger.warning("the pre-warmed runner is unavailable in this worker: %s", exc)
            return None
    return _server


def with_warm_path(environment: dict[str, str], bin_folder: Path) -> dict[str, str]:
    return {**environment, "PATH": os.pathsep.join([str(bin_folder), environment.get("PATH", "")])}


def _remove_left_folders() -> None:
    """The folders of warm servers whose worker is gone (a SIGKILLed worker leaves its own)."""
    for folder in Path(tempfile.gettempdir()).glob("kim-warm-*-*"):
        try:
            pid = int(folder.name.split("-")[2])
            os.kill(pid, 0)
        except (ValueError, IndexError):
            continue
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            continue


def stop() -> None:
    """Stop this worker's warm server (tests; a worker's exit takes it by its death signal)."""
    global _server, _unavailable
    if _server is not None and _server.owner_pid == os.getpid():
        _server.stop()
    _server, _unavailable = None, None
