"""A run's processes never outlive their job: real runners, real signals, real cleanup.

In this process: a grandchild that left the session, django-q2's own timeout alarm, the
heartbeat. The qcluster SIGKILL test is in test_process_lifetime_cluster.py.
"""

import os
import signal
import subprocess
import time

import pytest
from django_q.exceptions import TimeoutException
from django_q.timeout import TimeoutHandler

from repository.models import Error, TestResult
from runner import cleanup, owners, processes
from runner.execute import run_pair
from runner.models import Build
from tests.fixtures.runner.cast import installed_model, made_test, process_alive

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(repository_dir):
    return installed_model()


def wait_until_dead(pids, seconds: float = 10) -> list[int]:
    """The pids still alive after waiting up to ``seconds`` for them to die."""
    deadline = time.monotonic() + seconds
    while any(process_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if process_alive(p)]


def pids_of(path, count: int, seconds: float = 20) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and len(found := path.read_text().split()) >= count:
            return [int(p) for p in found]
        time.sleep(0.05)
    raise AssertionError(f"the runner never wrote {count} pids to {path}")


def test_a_grandchild_that_left_the_session_dies_when_the_runner_exits_normally(model, tmp_path):
    pids = tmp_path / "pids"
    test = made_test("Leaves__TE_000000000741_000", {"pipeline.stdin.tpl": "", "runner": f"""
        #!/bin/sh
        setsid sleep 1000 </dev/null >/dev/null 2>&1 &
        echo $! >> {pids}
        # A double fork: the grandchild is an orphan before the runner exits.
        (setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! >> {pids})
        exit 0
        """})
    outcome = run_pair(test, model)
    assert isinstance(outcome, Error) and outcome.category == "no-results"
    strays = [int(p) for p in pids.read_text().split()]
    assert len(strays) == 2
    # Killed and reaped by run_pair itself (this process is their subreaper): gone, not zombies.
    assert not any(os.path.exists(f"/proc/{p}") for p in strays)


def test_an_orphan_that_cleared_its_environment_dies_and_the_workers_own_child_lives(model,
                                                                                      tmp_path):
    pids = tmp_path / "pids"
    # The worker's own child, started before the run in a session of its own (as the KIM API
    # check worker is): a child of the worker that is no orphan of the run.
    own = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    test = made_test("Untagged__TE_000000000747_000", {"pipeline.stdin.tpl": "", "runner": f"""
        #!/bin/sh
        # No KIM_PIPELINE_RUN: only being re-parented to the worker (a subreaper) betrays them.
        env -i setsid sleep 1000 </dev/null >/dev/null 2>&1 &
        echo $! >> {pids}
        (env -i setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! >> {pids})
        sleep 0.5  # the double-forked one is the worker's child while the runner still runs
        exit 0
        """})
    try:
        outcome = run_pair(test, model)
        assert isinstance(outcome, Error) and outcome.category == "no-results"
        strays = [int(p) for p in pids.read_text().split()]
        assert len(strays) == 2
        assert not any(os.path.exists(f"/proc/{p}") for p in strays)  # killed and reaped
        assert own.poll() is None
    finally:
        own.kill()
        own.wait()


def test_django_q2s_timeout_alarm_ends_the_runner_and_its_scratch_folder(model, tmp_path):
    pids = tmp_path / "pids"
    test = make_sleeper("Alarmed__TE_000000000742_000", pids, timeout=100)
    with pytest.raises(TimeoutException), TimeoutHandler(2):  # the worker's own timeout handler
        run_pair(test, model)
    runner, grandchild = pids_of(pids, 2)
    assert wait_until_dead([runner, grandchild], 0) == []  # killed before run_pair gave up
    assert run_folders_of(test) == []
    assert not Error.objects.exists() and not TestResult.objects.exists()


def run_folders_of(test) -> list:
    """This test's run folders in this process's scratch folder (another test's are not ours)."""
    return list(owners.owner_scratch().glob(f"{test.kim_id}__*"))


def make_sleeper(kim_id: str, pids, **fields):
    return made_test(kim_id, {"pipeline.stdin.tpl": "", "runner": f"""
        #!/bin/sh
        echo $$ >> {pids}
        setsid sleep 1000 </dev/null >/dev/null 2>&1 &
        echo $! >> {pids}
        sleep 1000
        """}, **fields)


def test_the_heartbeat_is_called_while_the_runner_runs(model, settings):
    settings.PIPELINE_HEARTBEAT_SECONDS = 0.2
    beats = []
    test = made_test("Beats__TE_000000000743_000", {"pipeline.stdin.tpl": "",
                                                     "runner": "#!/bin/sh\nsleep 1.5\nexit 3\n"})
    outcome = run_pair(test, model, heartbeat=lambda: beats.append(time.monotonic()))
    assert outcome.category == "nonzero-exit"
    assert len(beats) >= 3
    assert all(later > earlier for earlier, later in zip(beats, beats[1:], strict=False))


class LeaseLost(Exception):
    pass


def test_a_heartbeat_that_raises_stops_the_runner_and_its_exception_propagates(model, settings,
                                                                                 tmp_path):
    settings.PIPELINE_HEARTBEAT_SECONDS = 0.2
    pids = tmp_path / "pids"
    test = make_sleeper("LosesLease__TE_000000000744_000", pids, timeout=100)

    def heartbeat():
        if pids.exists() and len(pids.read_text().split()) >= 2:
            raise LeaseLost("another worker holds the job now")

    with pytest.raises(LeaseLost):
        run_pair(test, model, heartbeat=heartbeat)
    assert wait_until_dead(pids_of(pids, 2), 0) == []
    assert not Error.objects.exists()  # nothing kept: the job is someone else's
    assert run_folders_of(test) == []


def owner_of(host: str, pid: int, start: int | None = None) -> str:
    """The owner string of ``pid`` (its real start time unless ``start`` is given), this boot."""
    start = owners.start_time(pid) if start is None else start
    return f"{host}:{pid}:{start}:{owners.boot_id()}"


def dead_owner(host: str = "thishost") -> str:
    """A certainly dead owner: an exited child's pid with the start time it had (whoever gets
    the pid next starts later)."""
    process = subprocess.Popen(["sleep", "1000"])
    owner = owner_of(host, process.pid)
    process.kill()
    process.wait()
    return owner


def test_clean_dead_owners_removes_a_dead_owners_scratch_and_building_row_and_keeps_a_live_ones(
        repository_dir, settings):
    settings.PIPELINE_NODE_NAME = "thishost"
    holder = subprocess.Popen(["sleep", "1000"])  # alive throughout: a live owner, a reused pid
    boot = owners.boot_id()
    dead = {
        "exited": dead_owner(),
        # The pid is alive but another process's (a restarted container's new worker) ...
        "reused": owner_of("thishost", holder.pid, owners.start_time(holder.pid) - 1),
        # ... or the cleaner's own: an earlier process that had this pid.
        "mine": owner_of("thishost", os.getpid(), owners.start_time(os.getpid()) - 1),
        "another boot": owner_of("thishost", holder.pid).replace(
            boot, "0" * 8 if boot != "0" * 8 else "1" * 8),
        "old format, free pid": f"thishost:{int(open('/proc/sys/kernel/pid_max').read()) + 1}",
    }
    live = {
        "live": owner_of("thishost", holder.pid),
        "old format, live pid": f"thishost:{holder.pid}",
        "elsewhere": dead_owner("otherhost"),  # another host's pid says nothing here
    }
    all_owners = [*dead.values(), *live.values()]
    assert all(len(owner) < 200 for owner in all_owners)  # Build.owner's max_length
    folders = {owner: owners.owner_scratch(owner) / "Run__TE_000000000745_000.x"
               for owner in all_owners}
    for folder in folders.values():
        folder.mkdir(parents=True)
    builds = {owner: f"B{number}__TE_00000000076{number}_000" for number, owner in enumerate(all_owners)}
    for owner, kim_id in builds.items():
        Build.objects.create(kim_id=kim_id, owner=owner, status=Build.Status.BUILDING)
    Build.objects.create(kim_id="Done__TE_000000000759_000", owner=dead["exited"],
                         status=Build.Status.SUCCEEDED)
    strays = [subprocess.Popen(["sleep", "1000"],
                               env={**os.environ, processes.RUN_VARIABLE: f"{owner}/Run.x"})
              for owner in (dead["exited"], dead["reused"])]
    # No tag (it cleared its environment): its working folder in the dead run's betrays it.
    strays.append(subprocess.Popen(["sleep", "1000"], env={}, cwd=folders[dead["reused"]]))
    kept = [subprocess.Popen(["sleep", "1000"],
                             env={**os.environ, processes.RUN_VARIABLE: f"{live['live']}/Run.y"}),
            subprocess.Popen(["sleep", "1000"], env={}, cwd=folders[live["live"]])]
    try:
        report = cleanup.clean_dead_owners()
        assert sorted(report.processes) == sorted(stray.pid for stray in strays)
        for stray in strays:  # reaped by the cleaner (its children), else by wait()
            assert stray.wait(timeout=10) == -signal.SIGKILL or not os.path.exists(
                f"/proc/{stray.pid}")
        assert all(process.poll() is None for process in kept)
        assert holder.poll() is None  # the reused pid's process itself is no stray
    finally:
        for process in (*kept, holder):
            process.kill()
            process.wait()
    for owner in dead.values():
        assert not folders[owner].parent.exists(), owner
    for owner in live.values():
        assert folders[owner].is_dir(), owner
    assert sorted(report.scratch_folders) == sorted(folders[o].parent.name for o in dead.values())
    assert sorted(report.builds) == sorted(builds[owner] for owner in dead.values())
    assert set(Build.objects.values_list("kim_id", flat=True)) == {
        *(builds[owner] for owner in live.values()), "Done__TE_000000000759_000"}


def test_a_build_interrupted_by_its_builders_death_is_rebuilt_by_the_next_scan(repository_dir,
                                                                              settings):
    from runner import build

    settings.PIPELINE_NODE_NAME = "thishost"
    test = made_test("Interrupted__TE_000000000746_000", {
        "Makefile": "runner:\n\tprintf '#!/bin/sh\\nexit 0\\n' > runner; chmod +x runner\n",
        "pipeline.stdin.tpl": ""})
    Build.objects.create(kim_id=test.kim_id, owner=dead_owner(),
                         status=Build.Status.BUILDING)
    assert "interrupted" in run_pair(test, installed_model()).message
    cleanup.clean_dead_owners()
    assert build.build_sources() == {"built": [test.kim_id], "failed": []}
    assert Build.objects.get(kim_id=test.kim_id).status == Build.Status.SUCCEEDED
