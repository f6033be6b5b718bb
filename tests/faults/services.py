"""Private PostgreSQL and Redis servers that a fault test may restart and kill.

The machine's own servers (127.0.0.1:5432 and :6379) serve other sessions: a fault test never
touches them. These run from a temporary folder on their own ports, as an unprivileged user
(PostgreSQL refuses to run as root: ``postgres`` when we are root). A server that cannot start
is a test failure saying why (``ServiceError``), never a skip.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
# Ports of their own (another checkout's fault tests running at once: set these apart).
POSTGRES_PORT = int(os.environ.get("PIPELINE_FAULTS_POSTGRES_PORT", "55432"))
REDIS_PORT = int(os.environ.get("PIPELINE_FAULTS_REDIS_PORT", "56379"))


class ServiceError(AssertionError):
    """A private server would not start or stop: the fault test fails, saying why."""


def port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, *, up: bool, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_taken(port) == up:
            return
        time.sleep(0.05)
    raise ServiceError(f"{what}: port {port} still {'closed' if up else 'open'} after {seconds} s")


class PrivatePostgres:
    """A PostgreSQL 15 cluster in a temporary folder, listening on 127.0.0.1:``port`` only."""

    def __init__(self, port: int = POSTGRES_PORT):
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (POSTGRES_BIN / tool).exists():
                raise ServiceError(f"{POSTGRES_BIN / tool} is missing: the fault tests need the "
                                   "PostgreSQL 15 server binaries (Debian's postgresql-15)")
        if port_taken(port):
            raise ServiceError(f"port {port} is taken: a private PostgreSQL left by an earlier "
                               f"run? (`ss -ltnp 'sport = :{port}'`)")
        self.port = port
        self.restarts = 0
        # Not under pytest's base temp: that is root's, mode 0700, closed to the server's user.
        self.folder = Path(tempfile.mkdtemp(prefix="kim-faults-postgres-"))
        self.data = self.folder / "data"
        self.logfile = self.folder / "server.log"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale", "C.UTF-8")
        with open(self.data / "postgresql.conf", "a") as conf:
            # Speed over durability against the machine crashing (fsync), never against the
            # server crashing: synchronous_commit stays on, or a SIGKILL would lose commits
            # already acknowledged (a folder whose row vanished). A restart, fast or after
            # SIGKILL, goes through crash recovery from the WAL.
            conf.write(f"port = {port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.folder}'\nfsync = off\n"
                       "full_page_writes = off\n"
                       "max_connections = 60\nshared_buffers = 32MB\n")

    def _run(self, tool: str, *args: str, timeout: float = 120) -> str:
        command = [str(POSTGRES_BIN / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False, cwd=self.folder)
        if done.returncode:
            log = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise ServiceError(f"{tool} {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr}\n{log}")
        return done.stdout

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60",
                  "start")
        wait_for_port(self.port, up=True, seconds=30, what="private PostgreSQL start")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is cut, open transactions roll back."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60",
                  "-m", "fast", "restart")
        wait_for_port(self.port, up=True, seconds=30, what="private PostgreSQL restart")
        self.restarts += 1

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def crash(self, down_seconds: float = 0.0) -> None:
        """SIGKILL the postmaster and its backends (a machine losing the server), then start it:
        the start recovers from the WAL."""
        pid = self.postmaster_pid()
        backends = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True,
                                  check=False).stdout.split()
        os.kill(pid, signal.SIGKILL)
        for child in backends:
            try:
                os.kill(int(child), signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for_port(self.port, up=False, seconds=30, what="private PostgreSQL SIGKILL")
        # Gone, not a zombie: pg_ctl start takes a live pid in postmaster.pid for a running
        # server. A test process that ran a pipeline job is a child subreaper, so the killed
        # postmaster may be re-parented here: reap it then.
        dead = [pid, *(int(c) for c in backends)]
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{p}").exists() for p in dead) and time.monotonic() < deadline:
            for p in dead:
                try:
                    os.waitpid(p, os.WNOHANG)
                except ChildProcessError:
                    pass
            time.sleep(0.05)
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1

    def sql(self, statement: str, database: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "30", "-m", "immediate",
                          "stop")
            except ServiceError:
                os.kill(self.postmaster_pid(), signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """``redis-server`` on 127.0.0.1:``port`` keeping nothing on disk: a restart loses its queue."""

    def __init__(self, port: int = REDIS_PORT):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise ServiceError("redis-server is missing: the fault tests need Debian's redis-server")
        if port_taken(port):
            raise ServiceError(f"port {port} is taken: a private Redis left by an earlier run? "
                               f"(`ss -ltnp 'sport = :{port}'`)")
        self.port = port
        self.restarts = 0
        self.folder = Path(tempfile.mkdtemp(prefix="kim-faults-redis-"))
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 — lives with the process
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        try:
            wait_for_port(self.port, up=True, seconds=30, what="private Redis start")
        except ServiceError as exc:
            raise ServiceError(f"{exc}\n{(self.folder / 'server.log').read_text()[-2000:]}") \
                from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        wait_for_port(self.port, up=False, seconds=30, what="private Redis SIGKILL")

    def restart(self, down_seconds: float = 0.0) -> None:
        """SIGKILL and start again: every queued task is gone (nothing saved, no append log)."""
        self.kill()
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
