"""An owner names one process instance: host, pid, start time and boot; old ``host:pid`` too."""

import os
import subprocess
from pathlib import Path

from runner import processes


def test_an_owner_is_this_process_its_start_time_and_its_boot(settings):
    settings.PIPELINE_NODE_NAME = "thishost"
    owner = processes.owner()
    assert processes.parse_owner(owner) == processes.Owner(
        "thishost", os.getpid(), processes.start_time(os.getpid()), processes.boot_id())
    assert len(owner) < 200  # Build.owner's max_length
    assert not processes.owner_dead(owner)
    # The scratch folder names the same owner, without ':' (a cwd never holds one).
    folder = processes.owner_scratch()
    assert ":" not in folder.name
    assert processes.owner_of_scratch(folder) == owner


def test_old_owners_and_their_folders_are_still_read(settings):
    settings.PIPELINE_NODE_NAME = "thishost"
    assert processes.parse_owner("thishost:12") == processes.Owner("thishost", 12)
    assert processes.owner_of_scratch(Path("/x/thishost+12")) == "thishost:12"
    assert processes.owner_scratch("thishost:12").name == "thishost+12"
    assert not processes.owner_dead(f"thishost:{os.getpid()}")  # the cleaner itself, as before
    assert processes.owner_of_scratch(Path("/x/not-an-owner")) is None
    assert processes.parse_owner("nothing") is None


def test_a_pid_held_by_another_process_is_a_dead_owner(settings):
    settings.PIPELINE_NODE_NAME = "thishost"
    holder = subprocess.Popen(["sleep", "1000"])
    try:
        started = processes.start_time(holder.pid)
        boot = processes.boot_id()
        assert not processes.owner_dead(f"thishost:{holder.pid}:{started}:{boot}")
        assert processes.owner_dead(f"thishost:{holder.pid}:{started - 1}:{boot}")
        assert processes.owner_dead(f"thishost:{os.getpid()}:{started}:{boot}")  # not mine
        other_boot = "0" * 8 if boot != "0" * 8 else "1" * 8
        assert processes.owner_dead(f"thishost:{holder.pid}:{started}:{other_boot}")
        assert not processes.owner_dead(f"otherhost:{holder.pid}:{started - 1}:{boot}")
    finally:
        holder.kill()
        holder.wait()
    assert processes.owner_dead(f"thishost:{holder.pid}:{started}:{boot}")
