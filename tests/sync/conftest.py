"""Real servers for the sync tests: an rsync daemon and an sshd on 127.0.0.1, on free ports.

Both are started and stopped here; a test waits for a server by connecting to its port.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from kimsite import config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, attempts: int = 500) -> None:
    for _ in range(attempts):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            try:
                proc.wait(timeout=0.02)
            except subprocess.TimeoutExpired:
                pass
    raise RuntimeError(f"nothing listens on port {port}")


class RsyncDaemon:
    """``rsync --daemon --no-detach`` serving module ``kim`` from ``root``; stop() and start() again."""

    def __init__(self, base: Path):
        # rsync 3.5's daemon reports files under a 0700 parent (pytest's tmp_path) as vanished:
        # the served tree gets an open folder of its own.
        self.base = base
        self.root = Path(tempfile.mkdtemp(prefix="kim-remote-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.conf = base / "rsyncd.conf"
        self.conf.write_text(
            f"pid file = {base}/rsyncd.pid\nuse chroot = no\nlog file = {base}/rsyncd.log\n"
            f"[kim]\npath = {self.root}\nread only = no\nuid = 0\ngid = 0\n")
        self.proc = None

    @property
    def address(self) -> str:
        return f"rsync://127.0.0.1:{self.port}/kim"

    def start(self):
        (self.base / "rsyncd.pid").unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            ["rsync", "--daemon", "--no-detach", f"--config={self.conf}", f"--port={self.port}",
             "--address=127.0.0.1"], stderr=subprocess.PIPE, text=True, start_new_session=True)
        wait_for_port(self.port, self.proc)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the daemon and its per-connection children
            self.proc.wait()
        self.proc = None

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def kim_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "kim"
    path.mkdir()
    monkeypatch.setattr(config, "KIM_DIR", path)
    return path


@pytest.fixture
def daemon(tmp_path, settings, kim_dir, repository_dir):
    server = RsyncDaemon(tmp_path)
    server.start()
    settings.RSYNC_ADDRESS = server.address
    settings.RSYNC_REMOTE_ROOT = "repo"
    settings.RSYNC_FLAGS = "-rltz --relative"
    settings.RSYNC_LOG_FILE_FLAG = f"--log-file={tmp_path}/logs/rsync.log"
    settings.RSYNC_RETRIES = 1
    settings.RSYNC_BACKOFF = 0.0
    settings.RSYNC_TIMEOUT = 20
    settings.RSYNC_MAX_SIZE = "1M"
    for area in ("real-read", "real-write", "temp-read", "temp-write"):
        (server.root / "repo" / area).mkdir(parents=True)
    yield server
    server.stop()
    server.remove()


@pytest.fixture
def sshd(tmp_path, settings, kim_dir, repository_dir):
    """A real sshd on a free port; root logs in with a key made here."""
    if not Path("/usr/sbin/sshd").exists():
        pytest.fail("openssh-server is not installed (bin/bootstrap installs it)")
    base = tmp_path / "ssh"
    base.mkdir()
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)], check=True)
    shutil.copy(base / "client_key.pub", base / "authorized_keys")
    port = free_port()
    (base / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base}/host_key\nAuthorizedKeysFile {base}/authorized_keys\n"
        f"PidFile {base}/sshd.pid\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nPermitRootLogin prohibit-password\n")
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-p", str(port), "-f", str(base / "sshd_config")],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_for_port(port, proc)
    remote_root = tmp_path / "ssh-remote"
    for area in ("real-read", "real-write", "temp-read", "temp-write"):
        (remote_root / area).mkdir(parents=True)
    settings.RSYNC_ADDRESS = "root@127.0.0.1"
    settings.GLOBAL_PORT = port
    settings.RSYNC_SSH_KEY = str(base / "client_key")
    settings.RSYNC_REMOTE_ROOT = str(remote_root)
    settings.RSYNC_FLAGS = "-rltz --relative"
    settings.RSYNC_LOG_FILE_FLAG = ""
    settings.RSYNC_RETRIES = 1
    settings.RSYNC_BACKOFF = 0.0
    settings.RSYNC_TIMEOUT = 20
    settings.RSYNC_MAX_SIZE = "1M"
    yield remote_root
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def make_item(root: Path, kim_id: str, *, files=None) -> Path:
    """A whole item folder: its data files, then its marker kimspec.edn."""
    leader = kim_id.split("__")[-1][:2].lower()
    folder = root / leader / kim_id
    folder.mkdir(parents=True)
    for name, content in (files or {"data.txt": f"data of {kim_id}\n"}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    (folder / "kimspec.edn").write_text(f'{{"kim-code" "{kim_id}"}}\n')
    return folder
