"""Real ``manage.py qcluster`` processes: a runner never outlives the worker running its job.

SIGKILL: the cluster's whole session is killed (a machine losing the pipeline); the runner
lives in a session of its own, so only the kernel's parent-death signal can end it, and the
next worker's cleanup pass (runner.cleanup) ends the strays and removes the scratch folder.
Timeout: django-q2 ends the worker's task at its timeout; the runner and its grandchild die.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from runner import processes
from tests.fixtures.pipeline.site import PROJECT_DIR, PYTHON, PipelineSite
from tests.fixtures.runner.cast import process_alive

pytestmark = pytest.mark.slow

NODE = "lifetime"

RUNNER = """#!/bin/sh
read MODEL
echo $$ >> {pids}
setsid sleep 1000 </dev/null >/dev/null 2>&1 &
echo $! >> {pids}
env -i setsid sleep 1000 </dev/null >/dev/null 2>&1 &
echo $! >> {pids}
sleep 1000
"""


def wait_until(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def run_folders(site: PipelineSite) -> list[Path]:
    root = Path(site.env["KIM_DIR"]) / "scratch"
    return [run for owner in root.iterdir() for run in owner.iterdir()] if root.is_dir() else []


def clean_up(site: PipelineSite) -> str:
    """The pass a new worker runs at its first task, on this node."""
    done = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c",
         "from runner.cleanup import clean_dead_owners; print(clean_dead_owners())"],
        cwd=PROJECT_DIR, env={**site.env, "PIPELINE_NODE_NAME": NODE}, capture_output=True,
        text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def site_with_a_sleeping_job(tmp_path, **site_options) -> tuple[PipelineSite, Path]:
    site = PipelineSite(tmp_path, **site_options)
    return site, tmp_path / "pids"


def start_the_job(site: PipelineSite, pids: Path) -> tuple:
    """Migrate, make one sleeping test and one model, submit, start a cluster; the runner's pid
    and its two grandchildren's (the second without KIM_PIPELINE_RUN: it ran under env -i)."""
    site.manage("migrate", "--noinput")
    tests = site.scenario("setup", "--tests", "1", "--models", "1")["tests"]
    runner = Path(site.env["KIM_REPOSITORY_DIR"]) / "te" / tests[0] / "runner"
    runner.write_text(RUNNER.format(pids=pids))
    site.scenario("submit")
    cluster = site.start_cluster(NODE)
    found = wait_until(lambda: pids.exists() and len(pids.read_text().split()) >= 3
                       and pids.read_text().split(), 90, "the runner and its grandchildren")
    return cluster, int(found[0]), int(found[1]), int(found[2])


def test_a_sigkilled_qcluster_leaves_no_runner_process_and_no_scratch_folder(tmp_path):
    site, pids = site_with_a_sleeping_job(tmp_path, job_timeout=120, retry=240)
    runner_pid = grandchild = untagged = None
    try:
        cluster, runner_pid, grandchild, untagged = start_the_job(site, pids)
        assert run_folders(site), "the run has a scratch folder"
        site.kill(cluster)  # SIGKILL to the cluster's whole session: the runner is not in it
        wait_until(lambda: not process_alive(runner_pid), 10, "the runner's death with its worker")
        report = clean_up(site)
        # The strays: the runner's own `sleep` (orphaned when the runner died), the grandchild
        # and the untagged grandchild (found by its working folder, in the run's scratch folder).
        assert "1 scratch folders" in report and "3 stray processes" in report, report
        wait_until(lambda: not process_alive(grandchild), 10, "the grandchild's death")
        wait_until(lambda: not process_alive(untagged), 10, "the untagged grandchild's death")
        assert run_folders(site) == []
        assert processes.tagged(lambda run: run.startswith(f"{NODE}:")) == []
    finally:
        site.stop_all()
        for pid in (runner_pid, grandchild, untagged):  # what a failed assertion left running
            if pid is not None and process_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_clusters_task_timeout_ends_the_runner_and_its_grandchild(tmp_path):
    site, pids = site_with_a_sleeping_job(tmp_path, job_timeout=6, retry=30)
    # The runner's own limit is far away: only django-q2's task timeout can end this job.
    site.env["RUNNER_TIMEOUT"] = "100"
    runner_pid = grandchild = untagged = None
    try:
        _, runner_pid, grandchild, untagged = start_the_job(site, pids)
        wait_until(lambda: not any(map(process_alive, (runner_pid, grandchild, untagged))), 30,
                   "the runner and its grandchildren to die at the task timeout")
        wait_until(lambda: run_folders(site) == [], 10, "the run's scratch folder to go")
    finally:
        site.stop_all()
        for pid in (runner_pid, grandchild, untagged):
            if pid is not None and process_alive(pid):
                os.kill(pid, signal.SIGKILL)
