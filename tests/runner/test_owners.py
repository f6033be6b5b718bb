"""An owner names one process instance: host, pid, start time and boot; old ``host:pid`` too."""

import os
import subprocess
from pathlib import Path

from runner import owners


def test_an_owner_is_this_process_its_start_time_and_its_boot(settings):
    settings.PIPELINE_NODE_NAME = "thishost"
    owner = owners.owner()
    assert owners.parse_owner(owner) == owners.Owner(
        "thishost", os.getpid(), owners.start_time(os.getpid()), owners.boot_id())
    assert len(owner) < 200  # Build.owner's max_length
    assert not owners.owner_dead(owner)
    # The scratch folder names the same owner, without ':' (a cwd never holds one).
    folder = owners.owner_scratch()
    assert ":" not in folder.name
    assert owners.owner_of_scratch(folder) == owner


def test_old_owners_and_their_folders_are_still_read(settings):
    settings.PIPELINE_NODE_NAME = "thishost"
    assert owners.parse_owner("thishost:12") == owners.Owner("thishost", 12)
    assert owners.owner_of_scratch(Path("/x/thishost+12")) == "thishost:12"
    assert owners.owner_scratch("thishost:12").name == "thishost+12"
    assert not owners.owner_dead(f"thishost:{os.getpid()}")  # the cleaner itself, as before
    assert owners.owner_of_scratch(Path("/x/not-an-owner")) is None
    assert owners.parse_owner("nothing") is None


def test_a_pid_held_by_another_process_is_a_dead_owner(settings):
    settings.PIPELINE_NODE_NAME = "thishost"
    holder = subprocess.Popen(["sleep", "1000"])
    try:
        started = owners.start_time(holder.pid)
        boot = owners.boot_id()
        assert not owners.owner_dead(f"thishost:{holder.pid}:{started}:{boot}")
        assert owners.owner_dead(f"thishost:{holder.pid}:{started - 1}:{boot}")
        assert owners.owner_dead(f"thishost:{os.getpid()}:{started}:{boot}")  # not mine
        other_boot = "0" * 8 if boot != "0" * 8 else "1" * 8
        assert owners.owner_dead(f"thishost:{holder.pid}:{started}:{other_boot}")
        assert not owners.owner_dead(f"otherhost:{holder.pid}:{started - 1}:{boot}")
    finally:
        holder.kill()
        holder.wait()
    assert owners.owner_dead(f"thishost:{holder.pid}:{started}:{boot}")
