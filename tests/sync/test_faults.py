"""Faults against the real daemon, each case repeated a bounded number of times.

rsync killed mid-push, the daemon killed mid-push and started again, the remote unreachable at
``sync pull``, a hostile remote. Waiting for "mid-push" is waiting for a condition (rsync's
temporary file on the remote), never for a time.
"""

import filecmp
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from runner.models import Publication
from runner.sync import pending, transfers
from tests.sync.conftest import free_port, make_item

PROJECT = Path(__file__).resolve().parents[2]
TR = "TR_000000000101_000"
REPEATS = 3

pytestmark = pytest.mark.django_db


def slow_push(daemon, repository_dir, settings, kill):
    """Push a result slowed by --bwlimit here; a watcher calls ``kill()`` once rsync's temp file
    shows on the remote. Returns (push_outcome's answer, the folder on the remote)."""
    make_item(repository_dir, TR, files={"big.bin": os.urandom(1_500_000), "small.txt": "s\n"})
    settings.RSYNC_FLAGS = "-rlt --relative --bwlimit=1000"
    remote_dir = daemon.root / "repo" / "real-write" / "tr" / TR
    seen, done = threading.Event(), threading.Event()

    def watch():
        while not done.is_set():
            if remote_dir.is_dir() and any(p.name.startswith(".big.bin.") for p in remote_dir.iterdir()):
                seen.set()
                kill()
                return
            done.wait(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        ok = pending.push_outcome(TR)
    finally:
        done.set()
        watcher.join()
    assert seen.is_set(), "the push ended before it could be interrupted"
    settings.RSYNC_FLAGS = "-rlt --relative"
    return ok, remote_dir


def rsync_children() -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            name = fields[0].split("(", 1)[1]
            ppid = int(fields[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if name == "rsync" and ppid == os.getpid():
            pids.append(int(stat.parent.name))
    return pids


def left_behind(remote_dir) -> str:
    """What an interrupted push left in the remote folder (printed for the closing note)."""
    if not remote_dir.is_dir():
        return "nothing"
    return ", ".join(f"{p.name} ({p.stat().st_size} B)" for p in sorted(remote_dir.iterdir())) or "an empty folder"


def assert_nothing_half_visible(daemon, tmp_path, remote_dir):
    assert not (remote_dir / "kimspec.edn").exists()
    good, report = transfers.inspect(transfers.require_remote(), "real-write", ["tr"], asked="test")
    assert good == [] and report.incomplete in ([TR], [])
    assert transfers.pull_folders("real-write", ["tr"], into=tmp_path / "reader").pulled == []


def assert_pushed_whole(repository_dir, remote_dir):
    assert (remote_dir / "kimspec.edn").is_file()
    assert not filecmp.dircmp(remote_dir, repository_dir / "tr" / TR).diff_files
    assert sorted(p.name for p in remote_dir.iterdir()) == ["big.bin", "kimspec.edn", "small.txt"]
    assert not pending.waiting().exists()
    # One row, published: the retry sent the same outcome under the same ID.
    assert list(Publication.objects.values_list("outcome_kim_id", "state")) == [(TR, "published")]


@pytest.mark.parametrize("repeat", range(REPEATS))
def test_rsync_killed_mid_push(daemon, repository_dir, settings, tmp_path, repeat):
    settings.RSYNC_RETRIES = 0
    def kill():
        children = [pid for pid in rsync_children() if pid != daemon.proc.pid]  # the client only
        assert children, "no rsync child to kill"
        for pid in children:
            os.kill(pid, signal.SIGKILL)
    ok, remote_dir = slow_push(daemon, repository_dir, settings, kill)
    assert ok is False
    assert "killed by signal 9" in pending.waiting().get(outcome_kim_id=TR).last_error
    assert_nothing_half_visible(daemon, tmp_path, remote_dir)
    print(f"\nrsync SIGKILLed mid-push left on the remote: {left_behind(remote_dir)}; no marker")
    assert pending.push_pending() == ([TR], {})
    assert_pushed_whole(repository_dir, remote_dir)


@pytest.mark.parametrize("repeat", range(2))
def test_daemon_killed_mid_push_and_started_again(daemon, repository_dir, settings, tmp_path, capsys, repeat):
    settings.RSYNC_RETRIES = 1
    ok, remote_dir = slow_push(daemon, repository_dir, settings, daemon.stop)
    assert ok is False
    error = pending.waiting().get(outcome_kim_id=TR).last_error
    assert daemon.address in error and "exit code" in error
    with pytest.raises(CommandError, match="not everything went through"):
        call_command("sync", "push")
    assert "still waiting 1" in capsys.readouterr().out and [r.outcome_kim_id for r in pending.waiting()] == [TR]
    daemon.start()
    assert_nothing_half_visible(daemon, tmp_path, remote_dir)
    with capsys.disabled():
        print(f"\ndaemon killed mid-push left on the remote: {left_behind(remote_dir)}; no marker")
    call_command("sync", "push")
    assert_pushed_whole(repository_dir, remote_dir)
    call_command("sync", "status")
    assert "waiting to be pushed: 0" in capsys.readouterr().out


@pytest.mark.parametrize("repeat", range(2))
def test_unreachable_remote_at_sync_pull(tmp_path, repeat):
    address = f"rsync://127.0.0.1:{free_port()}/kim"
    env = {**os.environ, "RSYNC_ADDRESS": address, "RSYNC_RETRIES": "1", "RSYNC_BACKOFF": "0",
           "KIM_DIR": str(tmp_path / "kim"), "KIM_REPOSITORY_DIR": str(tmp_path / "repo"),
           "KIM_LOG_DIR": str(tmp_path / "logs"), "DJANGO_SETTINGS_MODULE": "kimsite.settings_test",
           "DEBUG": "1", "RSYNC_LOG_FILE_FLAG": ""}
    proc = subprocess.run([sys.executable, "manage.py", "sync", "pull"], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert address in proc.stderr and "exit code 10" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "repo" / "te").exists()


@pytest.mark.parametrize("repeat", range(2))
def test_hostile_remote_refused(daemon, repository_dir, tmp_path, repeat):
    te = daemon.root / "repo" / "real-read" / "te"
    good = "Good__TE_000000000201_000"
    make_item(te.parent, good)
    make_item(te.parent, "Outward__TE_000000000202_000")
    (te / "Outward__TE_000000000202_000" / "passwd").symlink_to("/etc/passwd")
    make_item(te.parent, "Upward__TE_000000000203_000")
    (te / "Upward__TE_000000000203_000" / "up").symlink_to("../../../../etc")
    make_item(te.parent, "Huge__TE_000000000204_000")
    with open(te / "Huge__TE_000000000204_000" / "huge.bin", "wb") as out:
        out.truncate(2 * 1024**3)  # 2 GB, sparse
    make_item(te.parent, "Fifo__TE_000000000205_000")
    os.mkfifo(te / "Fifo__TE_000000000205_000" / "fifo")
    (te / "not_a_kim_id").mkdir()
    (te / "not_a_kim_id" / "kimspec.edn").write_text("{}\n")
    (te / "LJ__MO_000000000206_000").mkdir()
    (te / "LJ__MO_000000000206_000" / "kimspec.edn").write_text("{}\n")

    report = transfers.pull_folders("real-read", ["te"])
    assert set(report.refused) == {"Outward__TE_000000000202_000", "Upward__TE_000000000203_000",
                                   "Huge__TE_000000000204_000", "Fifo__TE_000000000205_000", "not_a_kim_id",
                                   "LJ__MO_000000000206_000"}
    assert "RSYNC_MAX_SIZE" in report.refused["Huge__TE_000000000204_000"]
    assert "device or special" in report.refused["Fifo__TE_000000000205_000"]
    assert sorted(p.name for p in (repository_dir / "te").iterdir()) == [good]
    assert not list(repository_dir.rglob("*.bin")) and not list(repository_dir.rglob("passwd"))
    with pytest.raises(CommandError):
        call_command("sync", "pull", "--area", "real-read")
    for asked in ("../../etc", "/etc/passwd", "te/../../x"):
        with pytest.raises(CommandError, match="KIM ID|kim"):
            call_command("sync", "pull", asked)
