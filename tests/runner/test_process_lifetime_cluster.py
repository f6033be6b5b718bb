"""A real ``manage.py qcluster`` SIGKILLed mid-job leaves no runner process and no scratch folder.

The cluster's whole session is killed (a machine losing the pipeline); the runner lives in a
session of its own, so only the kernel's parent-death signal can end it, and the next worker's
cleanup pass (runner.cleanup) ends the grandchild that left and removes the scratch folder.
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


def test_a_sigkilled_qcluster_leaves_no_runner_process_and_no_scratch_folder(tmp_path):
    site = PipelineSite(tmp_path, job_timeout=120, retry=240)
    site.manage("migrate", "--noinput")
    tests = site.scenario("setup", "--tests", "1", "--models", "1")["tests"]
    pids = tmp_path / "pids"
    runner = Path(site.env["KIM_REPOSITORY_DIR"]) / "te" / tests[0] / "runner"
    runner.write_text(RUNNER.format(pids=pids))
    site.scenario("submit")
    cluster = site.start_cluster(NODE)
    try:
        found = wait_until(lambda: pids.exists() and len(pids.read_text().split()) >= 2
                           and pids.read_text().split(), 90, "the runner and its grandchild")
        runner_pid, grandchild = (int(p) for p in found[:2])
        assert run_folders(site), "the run has a scratch folder"
        site.kill(cluster)  # SIGKILL to the cluster's whole session: the runner is not in it
        wait_until(lambda: not process_alive(runner_pid), 10, "the runner's death with its worker")
    finally:
        site.stop_all()
    try:
        report = clean_up(site)
        # The strays: the runner's own `sleep` (orphaned when the runner died) and the grandchild.
        assert "1 scratch folders" in report and "2 stray processes" in report, report
        wait_until(lambda: not process_alive(grandchild), 10, "the grandchild's death")
        assert run_folders(site) == []
        assert processes.tagged(lambda run: run.startswith(f"{NODE}:")) == []
    finally:
        for pid in (runner_pid, grandchild):  # whatever a failed assertion left running
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
