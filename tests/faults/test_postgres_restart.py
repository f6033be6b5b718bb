"""PostgreSQL restarted while a real qcluster works through its queue (the ORM broker, so the
deliveries live in the restarted server too).

Each restart waits until a job is running, then cuts every connection: alternately
``pg_ctl restart -m fast`` and a SIGKILL of the postmaster and its backends followed by a start
(crash recovery). Workers lose their connection mid-claim, mid-heartbeat, mid-record; the
Job rows and the conditional updates on them must still give every job one outcome.
``PIPELINE_LONG_FAULTS=1`` restarts it 20 times over a longer queue.
"""

import os
import random
import time

import pytest

from tests.faults.conftest import site_on
from tests.faults.judge import (
    assert_each_job_ended_once,
    prepare,
    queue_running,
    run_to_the_end,
    running_jobs,
    tally,
    wait_or_explain,
)
from tests.fixtures.pipeline import items

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LONG = os.environ.get("PIPELINE_LONG_FAULTS") == "1"
RESTARTS = 20 if LONG else 4
TESTS, FAILING, MODELS = (4, 1, 8) if LONG else (3, 1, 6)


def test_postgresql_restarted_mid_queue_loses_and_doubles_no_job(private_postgres, tmp_path):
    server = private_postgres
    site = site_on(server, tmp_path)
    seed = random.randrange(10**6)
    before = server.restarts
    chance = random.Random(seed)
    total = prepare(site, tests=TESTS, failing=FAILING, models=MODELS, sleep=0.5)
    mid_job = []
    with queue_running(site) as repair:
        site.wait_for(lambda: items.executions(site.log, "start"), timeout=120,
                      what="the first run")
        for n in range(RESTARTS):
            # A random pause, then the restart as soon as a job is running (within 50 ms):
            # claims, runs and records are all hit.
            time.sleep(chance.uniform(0, 1.5))
            mid_job.append(wait_or_explain(site, server, repair,
                                           lambda: running_jobs(server, site.database_name),
                                           f"a running job before restart {n + 1}"))
            if n % 2:
                server.crash()
            else:
                server.restart()
        report = run_to_the_end(site, total, seconds=300)
    counts = tally(site, report, faults=RESTARTS, fault=f"postgresql restarted (seed {seed}, "
                   f"{repair.failed_passes} reconcile passes failed; jobs running at each: {mid_job})",
                   passing_pairs=(TESTS - FAILING) * MODELS, failing_pairs=FAILING * MODELS)
    assert server.restarts - before == RESTARTS
    assert_each_job_ended_once(counts, report)
