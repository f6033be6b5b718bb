"""Redis restarted while a real qcluster works through a queue delivered through it.

The private Redis keeps nothing on disk: each restart (SIGKILL, then a start) loses every
delivery it held. The Job rows are the truth: reconcile sends again the queued jobs nobody
is going to deliver, and the claims keep the deliveries that survived from running a job twice.
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

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

LONG = os.environ.get("PIPELINE_LONG_FAULTS") == "1"
RESTARTS = 20 if LONG else 4
TESTS, FAILING, MODELS = (7, 1, 8) if LONG else (3, 1, 6)


def queued_deliveries(server, cluster_name: str) -> int:
    import redis

    try:
        return redis.Redis.from_url(server.url(), socket_timeout=2).llen(
            f"django_q:{cluster_name}:q")
    except redis.RedisError:
        return 0


def test_redis_restarted_mid_queue_loses_and_doubles_no_job(private_postgres, private_redis,
                                                           tmp_path):
    site = site_on(private_postgres, tmp_path, redis=private_redis.url())
    seed = random.randrange(10**6)
    chance = random.Random(seed)
    lost_deliveries, mid_job = 0, []
    total = prepare(site, tests=TESTS, failing=FAILING, models=MODELS, sleep=0.5)
    with queue_running(site) as repair:
        site.wait_for(lambda: items.executions(site.log, "start"), timeout=120,
                      what="the first run")
        for n in range(RESTARTS):
            # A random pause, then the restart as soon as a job is running (within 50 ms):
            # claims, runs and records are all hit.
            time.sleep(chance.uniform(0, 1.5))
            mid_job.append(wait_or_explain(
                site, private_postgres, repair,
                lambda: running_jobs(private_postgres, site.database_name),
                f"a running job before restart {n + 1}"))
            lost_deliveries += queued_deliveries(private_redis, site.env["Q_CLUSTER_NAME"])
            private_redis.restart()
        report = run_to_the_end(site, total, seconds=300)
    counts = tally(site, report, faults=RESTARTS,
                   fault=f"redis restarted (seed {seed}, {lost_deliveries} deliveries lost; "
                         f"jobs running at each: {mid_job})",
                   passing_pairs=(TESTS - FAILING) * MODELS, failing_pairs=FAILING * MODELS)
    assert private_redis.restarts == RESTARTS
    assert lost_deliveries > 0, "no restart lost a delivery: the fault did not bite"
    assert_each_job_ended_once(counts, report)
