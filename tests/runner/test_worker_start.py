"""A new worker cleans what a killed cluster left on its machine when it starts, not at its first task."""

import os
import signal

import pytest

from tests.fixtures.runner.cast import process_alive
from tests.runner.test_process_lifetime_cluster import (
    NODE,
    run_folders,
    site_with_a_sleeping_job,
    start_the_job,
    wait_until,
)

pytestmark = pytest.mark.slow


def test_a_new_cluster_cleans_a_killed_clusters_strays_and_scratch_before_any_job(tmp_path):
    site, pids = site_with_a_sleeping_job(tmp_path, job_timeout=120, retry=240)
    runner_pid = grandchild = untagged = None
    try:
        cluster, runner_pid, grandchild, untagged = start_the_job(site, pids)
        site.kill(cluster)
        wait_until(lambda: not process_alive(runner_pid), 10, "the runner's death with its worker")
        assert process_alive(grandchild) and process_alive(untagged), \
            "the grandchildren left the session: only cleanup ends them"
        assert run_folders(site), "the dead worker's scratch folder is still there"
        # The killed job's lease has not expired: the new cluster has no job to run, so only
        # its workers' start can clean up.
        site.start_cluster(NODE)
        wait_until(lambda: not process_alive(grandchild) and not process_alive(untagged), 60,
                   "the strays' death at worker start")
        wait_until(lambda: run_folders(site) == [], 10, "the dead worker's scratch folder to go")
    finally:
        site.stop_all()
        for pid in (runner_pid, grandchild, untagged):
            if pid is not None and process_alive(pid):
                os.kill(pid, signal.SIGKILL)
