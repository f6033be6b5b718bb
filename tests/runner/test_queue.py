"""The queue with real processes: ``manage.py qcluster`` killed mid-job, two clusters at once.

Each test builds a site of its own (a migrated SQLite file, or a PostgreSQL database made from
a migrated template) and drives it through subprocesses; nothing here touches pytest's test
database. The ORM-broker tests follow the suite's database (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set), so the two CI runs cover both.
"""

import os
import signal
import uuid
from collections import Counter

import pytest

from tests.fixtures.pipeline import items
from tests.fixtures.pipeline.site import (
    PipelineSite,
    copy_sqlite,
    drop_postgres_database,
    migrated_sqlite_template,
    postgres_admin,
    postgres_unreachable,
    redis_unreachable,
    redis_url,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory):
    return migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="module")
def postgres_template(tmp_path_factory):
    reason = postgres_unreachable()
    if reason:
        pytest.fail(f"{reason}: the queue tests need the real server (bin/test starts none)")
    name = f"kimpipe_template_{os.getpid()}"
    drop_postgres_database(name)
    postgres_admin(f'CREATE DATABASE "{name}"')
    site = PipelineSite(tmp_path_factory.mktemp("postgres-template"),
                        database=f"postgres://postgres@127.0.0.1:5432/{name}")
    site.manage("migrate", "--noinput")
    yield name
    drop_postgres_database(name)


def postgres_site(tmp_path, template: str, *, redis: str | None):
    name = f"kimpipe_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    postgres_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    site = PipelineSite(tmp_path, redis=redis,
                        database=f"postgres://postgres@127.0.0.1:5432/{name}")
    site.database_name = name
    return site


@pytest.fixture
def orm_broker_site(request, tmp_path):
    """The ORM broker on the suite's database: a SQLite file, or PostgreSQL in the PostgreSQL run."""
    if os.environ.get("TEST_DATABASE_URL"):
        site = postgres_site(tmp_path, request.getfixturevalue("postgres_template"),
                             redis=None)
    else:
        site = PipelineSite(tmp_path)
        copy_sqlite(request.getfixturevalue("sqlite_template"), site)
    yield site
    site.stop_all()
    if site.database_name:
        drop_postgres_database(site.database_name)


@pytest.fixture
def postgres_redis_site(tmp_path, postgres_template):
    reason = redis_unreachable()
    if reason:
        pytest.fail(f"{reason}: the queue tests need the real server (bin/test starts none)")
    site = postgres_site(tmp_path, postgres_template, redis=redis_url())
    yield site
    site.stop_all()
    drop_postgres_database(site.database_name)
    import redis

    client = redis.Redis.from_url(redis_url())
    for key in client.scan_iter(f"*{site.env['Q_CLUSTER_NAME']}*"):
        client.delete(key)


def runs_in_progress(site) -> dict[int, tuple[str, str]]:
    """Runner pid → pair, for runs that started and have not finished."""
    if not site.log.exists():
        return {}
    started, finished = {}, set()
    for line in site.log.read_text().splitlines():
        what, runner, model, pid = line.split()
        if what == "start":
            started[int(pid)] = (runner, model)
        else:
            finished.add(int(pid))
    return {pid: pair for pid, pair in started.items() if pid not in finished}


def assert_each_pair_ran_once(site, report, total):
    assert report["states"]["done"] == total, report["states"]
    assert len(report["results_per_pair"]) == total
    assert set(report["results_per_pair"].values()) == {1}, "a pair has two results"
    finished = Counter(items.executions(site.log, "finish"))
    assert len(finished) == total and set(finished.values()) == {1}, finished


def kill_mid_job_then_recover(site):
    total = 8
    site.scenario("setup", "--tests", "2", "--models", "4", "--sleep", "1.5", "--log", str(site.log))
    site.scenario("submit")
    doomed = site.start_cluster("alpha")
    site.wait_for(lambda: len(runs_in_progress(site)) >= 2, timeout=60,
                  what="both workers inside a run")
    site.kill(doomed)
    # The runs the dead workers started die with the machine (their own pids, from the log).
    killed = runs_in_progress(site)
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    stranded = [j for j in site.scenario("report")["jobs"] if j["state"] == "running"]
    assert {(j["runner_kim_id"], j["subject_kim_id"]) for j in stranded} >= set(killed.values())

    site.start_cluster("beta")

    def everything_done():
        site.scenario("reconcile")
        report = site.scenario("report")
        return report if report["states"]["done"] == total else None

    report = site.wait_for(everything_done, timeout=150, every=1, what="every job done")
    assert_each_pair_ran_once(site, report, total)
    attempts = {(j["runner_kim_id"], j["subject_kim_id"]): j["attempts"] for j in report["jobs"]}
    for pair in killed.values():
        assert attempts[pair] == 2, f"{pair} was killed once and must have run twice in all"
    print(f"\nkill test: {len(killed)} jobs killed mid-run, {report['states']['done']} done, "
          f"{sum(n - 1 for n in report['results_per_pair'].values())} duplicate results")
    return killed


def parent_pid(pid: int) -> int:
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])


def test_sigkilled_worker_process_job_completes_exactly_once_orm_broker(orm_broker_site):
    """Only one worker dies; its cluster lives on and reincarnates it (django-q2's sentinel)."""
    site, total = orm_broker_site, 4
    site.scenario("setup", "--tests", "1", "--models", "4", "--sleep", "1.5", "--log", str(site.log))
    site.scenario("submit")
    cluster = site.start_cluster("alpha")
    runs = site.wait_for(lambda: runs_in_progress(site), timeout=60, what="a run in progress")
    runner_pid, pair = next(iter(runs.items()))
    # qcluster → sentinel → worker → … → runner: climb to the child of the sentinel.
    worker = runner_pid
    while parent_pid(parent_pid(worker)) != cluster.pid:
        worker = parent_pid(worker)
        assert worker > 1, "the runner is not below this cluster"
    os.kill(worker, signal.SIGKILL)
    os.kill(runner_pid, signal.SIGKILL)

    def everything_done():
        site.scenario("reconcile")
        report = site.scenario("report")
        return report if report["states"]["done"] == total else None

    report = site.wait_for(everything_done, timeout=150, every=1, what="every job done")
    assert cluster.poll() is None, "the cluster survives the loss of a worker"
    assert_each_pair_ran_once(site, report, total)
    attempts = {(j["runner_kim_id"], j["subject_kim_id"]): j["attempts"] for j in report["jobs"]}
    assert attempts[pair] == 2
    print(f"\nworker kill: 1 worker killed mid-run; {total} done, 0 duplicate results")


def two_clusters_share_one_queue(site):
    total = 32
    site.scenario("setup", "--tests", "4", "--models", "8", "--sleep", "0.4", "--log", str(site.log))
    site.scenario("submit", "--dispatch-twice")  # every job delivered twice on purpose
    site.start_cluster("alpha")
    site.start_cluster("beta")

    def everything_done():
        report = site.scenario("report")
        return report if report["states"]["done"] == total else None

    report = site.wait_for(everything_done, timeout=150, every=1, what="every job done")
    assert_each_pair_ran_once(site, report, total)
    assert Counter(items.executions(site.log, "start")) == Counter(items.executions(site.log))
    assert {j["attempts"] for j in report["jobs"]} == {1}
    nodes = Counter(j["lease_owner"].split(":")[0] for j in report["jobs"])
    assert set(nodes) == {"alpha", "beta"}, f"both clusters take work: {nodes}"
    print(f"\ntwo clusters: {total} jobs, each delivered twice; ran by node {dict(nodes)}; "
          "0 duplicates")


def test_sigkilled_cluster_job_completes_exactly_once_orm_broker(orm_broker_site):
    kill_mid_job_then_recover(orm_broker_site)


@pytest.mark.postgres
@pytest.mark.redis
def test_sigkilled_cluster_job_completes_exactly_once_postgres_redis(postgres_redis_site):
    # Redis keeps no receipts: the dead cluster's deliveries are gone; reconcile re-sends them.
    kill_mid_job_then_recover(postgres_redis_site)


def test_two_clusters_on_the_orm_broker_never_run_a_job_twice(orm_broker_site):
    two_clusters_share_one_queue(orm_broker_site)


@pytest.mark.postgres
@pytest.mark.redis
def test_two_clusters_on_postgres_and_redis_never_run_a_job_twice(postgres_redis_site):
    two_clusters_share_one_queue(postgres_redis_site)


def short_lease(site) -> None:
    """A 3 s lease (two 1 s heartbeats + 1 s grace): far shorter than the runs below."""
    site.env.update({"PIPELINE_HEARTBEAT_SECONDS": "1", "PIPELINE_LEASE_HEARTBEATS": "2",
                     "PIPELINE_LEASE_GRACE": "1"})


def test_a_live_slow_worker_keeps_its_lease_and_its_job_runs_once(tmp_path, sqlite_template):
    site = PipelineSite(tmp_path, job_timeout=30, retry=40)
    copy_sqlite(sqlite_template, site)
    short_lease(site)
    try:
        site.scenario("setup", "--tests", "1", "--models", "1", "--sleep", "8",
                      "--log", str(site.log))
        site.scenario("submit")
        site.start_cluster("alpha")
        site.wait_for(lambda: runs_in_progress(site), timeout=60, what="the run started")
        passes = []
        while runs_in_progress(site):  # 8 s of run: more than twice the lease
            passes.append(site.scenario("reconcile")["requeued"])
        report = site.wait_for(lambda: (r := site.scenario("report"))["states"]["done"] and r,
                               timeout=60, what="the job done")
    finally:
        site.stop_all()
    assert len(passes) >= 2 and passes == [[]] * len(passes), passes
    assert [j["attempts"] for j in report["jobs"]] == [1]
    assert_each_pair_ran_once(site, report, 1)


def test_a_cluster_timeout_ends_the_job_and_its_runner(tmp_path, sqlite_template):
    """The cluster kills the worker at the job's task timeout; the kernel ends its runner.

    The job's lease then lapses and reconcile queues it again, until its attempts are spent:
    a job the cluster keeps killing ends failed, naming the expired lease.
    """
    site = PipelineSite(tmp_path, job_timeout=4, retry=10)
    copy_sqlite(sqlite_template, site)
    short_lease(site)
    site.env["RUNNER_TIMEOUT"] = "60"  # the runner's own limit never comes: the cluster's does
    try:
        site.scenario("setup", "--tests", "1", "--models", "1", "--sleep", "120",
                      "--log", str(site.log))
        site.scenario("submit")
        site.start_cluster("alpha")
        runs = site.wait_for(lambda: runs_in_progress(site), timeout=60, what="the run started")
        runner_pid = next(iter(runs))
        site.wait_for(lambda: not os.path.exists(f"/proc/{runner_pid}") or
                      open(f"/proc/{runner_pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
                      timeout=30, what="the runner killed with its worker")

        def ended():
            site.scenario("reconcile")
            report = site.scenario("report")
            return report if report["states"]["failed"] else None

        report = site.wait_for(ended, timeout=120, every=1, what="the job failed")
    finally:
        site.stop_all()
    (job,) = report["jobs"]
    assert (job["state"], job["attempts"]) == ("failed", 3)
    assert report["results_per_pair"] == {}


@pytest.mark.postgres
def test_concurrent_releasers_and_claimers_on_postgres_take_each_job_once(tmp_path,
                                                                          postgres_template):
    site = postgres_site(tmp_path, postgres_template, redis=None)
    try:
        report = site.scenario("contend", "--tests", "40", "--threads", "8")
    finally:
        drop_postgres_database(site.database_name)
    assert report["vendor"] == "postgresql" and report["errors"] == []
    assert len(report["released"]) == len(set(report["released"])) == 40, "each released once"
    assert None not in report["claimed"], "a delivery found no job while 40 were queued"
    assert len(report["claimed"]) == 40
    claimed = sorted(report["claimed"] + report["rest"])
    assert claimed == list(range(1, report["jobs"] + 1)), "each job claimed once"
