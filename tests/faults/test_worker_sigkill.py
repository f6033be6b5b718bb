"""Workers of a real qcluster SIGKILLed at random points of their jobs.

Each kill picks a running job (one with an attempt left: a job killed at every attempt ends
failed with no outcome, which tests/runner/test_queue.py checks; unrestricted, 2 of 112 jobs
ended so in a 50-kill run), waits a random time within a job's length,
and SIGKILLs the worker process holding its lease (the pid in the lease owner): anywhere
from the claim through the run to recording the outcome, or already in its next job. The
sandbox ends the runner with its worker; django-q2 starts a new worker; the lease lapses and
reconcile queues the job again. A worker killed while idle dies holding the task queue's read
lock, which the cluster's watchdog frees (runner/cluster.py). ``PIPELINE_LONG_FAULTS=1``: 50 kills over a longer queue.
"""

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from runner import processes
from tests.faults.conftest import site_on
from tests.faults.judge import (
    assert_each_job_ended_once,
    prepare,
    queue_running,
    run_to_the_end,
    tally,
    wait_or_explain,
)
from tests.fixtures.pipeline import items
from tests.fixtures.pipeline.site import PROJECT_DIR, PYTHON

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LONG = os.environ.get("PIPELINE_LONG_FAULTS") == "1"
KILLS = 50 if LONG else 8
TESTS, FAILING, MODELS = (25, 3, 8) if LONG else (6, 1, 6)  # enough jobs to outlast the kills
SLEEP = 0.8  # the runner's own length; a job is about twice that here
NODE = "alpha"
FAILING_TESTS = {f"Fault{i}_Ar" for i in range(TESTS - FAILING, TESTS)}  # tests.faults.drive


def killable_jobs(server, database: str) -> list[tuple[int, str, int]]:
    """(pk, lease owner, attempts) of running jobs with an attempt left after this one."""
    return server.sql("SELECT id, lease_owner, attempts FROM runner_job WHERE state = 'running' "
                      "AND attempts < max_attempts", database)


def holds_a_last_attempt(server, database: str, pid: int) -> bool:
    """Whether worker ``pid`` now runs a job at its last attempt (its earlier one may be done)."""
    return bool(server.sql(f"SELECT 1 FROM runner_job WHERE state = 'running' AND attempts >= "
                           f"max_attempts AND lease_owner LIKE '{NODE}:{pid}:%'", database))


def is_worker(pid: int) -> bool:
    try:
        return b"qcluster" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def phase(server, database: str, site, pk: int, owner: str) -> str:
    """Where in its job the kill found the worker (read just after it)."""
    (state, holder, attempts, runner, model), = server.sql(
        f"SELECT state, lease_owner, attempts, runner_kim_id, subject_kim_id FROM runner_job "
        f"WHERE id = {pk}", database)
    if state != "running" or holder != owner:
        return "after the job (between jobs or in the next)"
    pair = (runner, model)
    if runner.split("__")[0] in FAILING_TESTS:
        # Its runner exits 3 before any "finish" line: running and recording look the same.
        return "failing runner started (running or recording)"
    starts = items.executions(site.log, "start").count(pair)
    finishes = items.executions(site.log, "finish").count(pair)
    if starts < attempts:
        return "claimed, runner not started"
    if finishes < starts:
        return "runner running"
    return "runner finished, recording"


def clean_up(site) -> str:
    """The cleanup pass a new worker runs at its first task (runner.cleanup), run once more at
    the end: the last kill's replacement may have had no task left to run it."""
    done = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c",
         "from runner.cleanup import clean_dead_owners; print(clean_dead_owners())"],
        cwd=PROJECT_DIR, env={**site.env, "PIPELINE_NODE_NAME": NODE}, capture_output=True,
        text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]  # the report (the shell says what it imported)


def run_folders(site) -> list[Path]:
    root = Path(site.env["KIM_DIR"]) / "scratch"
    return [run for owner in root.iterdir() for run in owner.iterdir()] if root.is_dir() else []


def test_workers_sigkilled_at_random_points_leave_each_job_one_outcome(private_postgres,
                                                                       tmp_path):
    server = private_postgres
    site = site_on(server, tmp_path)
    seed = random.randrange(10**6)
    chance = random.Random(seed)
    phases: Counter = Counter()
    total = prepare(site, tests=TESTS, failing=FAILING, models=MODELS, sleep=SLEEP)
    with queue_running(site, NODE) as repair:
        while sum(phases.values()) < KILLS:
            candidates = wait_or_explain(site, server, repair,
                                         lambda: killable_jobs(server, site.database_name),
                                         f"a running job for kill {sum(phases.values()) + 1}")
            pk, owner, _ = chance.choice(candidates)
            # Every other kill within the first half of a run (so some land while a runner
            # runs, whatever the seed), the others anywhere in and after it.
            time.sleep(chance.uniform(0, SLEEP / 2 if sum(phases.values()) % 2 == 0 else 2 * SLEEP))
            pid = int(owner.split(":")[1])
            if not is_worker(pid) or holds_a_last_attempt(server, site.database_name, pid):
                # Dead already (an earlier kill), or now in a job a kill would fail for good
                # (killed at each of its attempts: test_queue.py's case): pick again.
                continue
            os.kill(pid, signal.SIGKILL)
            phases[phase(server, site.database_name, site, pk, owner)] += 1
        report = run_to_the_end(site, total, seconds=600 if LONG else 300)
    cleaned = clean_up(site)
    # An idle worker killed holding the task queue's read lock: the watchdog freed it (cluster.py).
    freed = (Path(site.env["KIM_LOG_DIR"]) / "pipeline.log").read_text().count(
        "a worker died holding it; released")
    counts = tally(site, report, faults=KILLS,
                   fault=f"worker SIGKILLed (seed {seed}; {dict(phases)}; cleanup: {cleaned}; "
                         f"task queue lock freed {freed} times)",
                   passing_pairs=(TESTS - FAILING) * MODELS, failing_pairs=FAILING * MODELS)
    assert_each_job_ended_once(counts, report)
    assert phases["runner running"] > 0, f"no kill came while a runner ran: {dict(phases)}"
    assert counts["runs_again"] >= phases["runner running"], "a killed run must run again"
    assert run_folders(site) == [], "scratch folders of killed workers left behind"
    assert processes.tagged(lambda run: run.startswith(f"{NODE}:")) == [], "a runner outlived"
