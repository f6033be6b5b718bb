"""Jobs per second through a real ``manage.py qcluster`` with 2 workers, for a no-op test.

Two brokers measured in the same run: SQLite + the ORM broker (the default configuration) and
PostgreSQL + Redis (skipped, and said so, when either server does not answer).
Run: ``.venv/bin/python bench/bench_queue.py [--jobs 80] [--workers 2]`` (the cluster runs with
DEBUG off).

The rate is jobs / (last finish - first start), read from the Job rows, so cluster start-up is
not counted; a second rate leaves out each worker process's first job too (its start-up: the
warm server, the cleanup of dead owners). The no-op test still starts a process per run, as
every real test does.

Also the whole machine's CPU time per job, from a quarter of the jobs done to the last (every
process: the cluster, its runs, the database and broker servers; ``/proc/stat``), and the rate
that CPU time allows on this machine's cores: what bounds the rate when the cores are busy.
The time the hypervisor took from this virtual machine (steal) is printed beside it.
"""

import argparse
import itertools
import os
import sqlite3
import statistics
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchsetup import machine_speed_ms, scratch_folder  # noqa: E402
from tests.fixtures.pipeline.site import (  # noqa: E402
    PipelineSite,
    drop_postgres_database,
    postgres_admin,
    postgres_unreachable,
    redis_unreachable,
    redis_url,
)

TIMES_SQL = ("SELECT COUNT(*), MIN(started_at), MAX(finished_at) FROM runner_job "
             "WHERE state = 'done'")
#: Each done job's worker (``node:pid:token``) and times: the steady rate leaves out each
#: worker process's first job (its start-up: the warm server, the cleanup of dead owners).
ROWS_SQL = "SELECT lease_owner, started_at, finished_at FROM runner_job WHERE state = 'done'"


def cpu_seconds() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine since boot, from ``/proc/stat``."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def parse(value):
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def later_runs(rows) -> list[list[tuple]]:
    """Each worker process's (started, finished) in order, its first job (its start-up: the warm
    server, the cleanup of dead owners) left out."""
    by_worker: dict[str, list] = {}
    for owner, started, finished in rows:
        by_worker.setdefault(owner.split(":")[1], []).append((parse(started), parse(finished)))
    return [sorted(runs)[1:] for runs in by_worker.values()]


def hold_and_gap(rows) -> tuple[float, float]:
    """Median ms a worker holds a job (claim to completion), and between its jobs (completion
    to its next claim: django-q2's delivery and the worker's own bookkeeping)."""
    holds, gaps = [], []
    for runs in later_runs(rows):
        holds += [(finished - started).total_seconds() * 1000 for started, finished in runs]
        gaps += [(later[0] - earlier[1]).total_seconds() * 1000
                 for earlier, later in itertools.pairwise(runs)]
    return statistics.median(holds or [0]), statistics.median(gaps or [0])


def steady_rate(rows) -> float:
    """Jobs per second once every worker process has run its first job."""
    later = [times for runs in later_runs(rows) for times in runs]
    if len(later) < 2:
        return float("nan")
    span = max(f for _, f in later) - min(s for s, _ in later)
    return len(later) / span.total_seconds()


def measure(site: PipelineSite, jobs: int, workers: int, read_times, read_rows) -> dict:
    models = 8
    # As a production cluster runs (the test site's DEBUG=1 keeps every query in memory).
    site.env["DEBUG"] = "0"
    site.env["Q_WORKERS"] = str(workers)
    site.manage("migrate", "--noinput")
    site.scenario("setup", "--tests", str(-(-jobs // models)), "--models", str(models))
    cluster = site.start_cluster("bench")
    # The machine's CPU is counted from a quarter of the jobs done to the last: by then the
    # workers' warm servers have imported what they import once.
    mark = None
    try:
        site.scenario("submit")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done, first, last = read_times()
            if mark is None and done >= jobs // 4:
                mark = (done, *cpu_seconds())
            if done >= jobs:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"only {done} of {jobs} jobs done\n{site.cluster_output()}")
        busy, stolen = cpu_seconds()
    finally:
        site.kill(cluster)
    counted = done - mark[0]
    # None when every job ended between two looks (a tiny run): nothing counted after the mark.
    cpu = ((busy - mark[1]) / counted, (stolen - mark[2]) / counted) if counted else None
    rows = read_rows()
    return {"rate": done / (parse(last) - parse(first)).total_seconds(),
            "steady": steady_rate(rows), "cpu": cpu, "hold_gap": hold_and_gap(rows)}


def sqlite_orm(jobs: int, workers: int) -> dict:
    site = PipelineSite(scratch_folder("bench-queue-sqlite-"),
                        job_timeout=300, retry=420)

    def read_times():
        with sqlite3.connect(site.sqlite_file, timeout=30) as connection:
            return connection.execute(TIMES_SQL).fetchone()

    def read_rows():
        with sqlite3.connect(site.sqlite_file, timeout=30) as connection:
            return connection.execute(ROWS_SQL).fetchall()

    return measure(site, jobs, workers, read_times, read_rows)


def postgres_redis(jobs: int, workers: int) -> dict | None:
    reason = postgres_unreachable() or redis_unreachable()
    if reason:
        print(f"PostgreSQL + Redis: not measured ({reason})")
        return None
    import psycopg

    name = f"kimpipe_bench_{uuid.uuid4().hex[:8]}"
    postgres_admin(f'CREATE DATABASE "{name}"')
    site = PipelineSite(scratch_folder("bench-queue-pg-"),
                        job_timeout=300, retry=420,
                        database=f"postgres://postgres@127.0.0.1:5432/{name}", redis=redis_url())

    def read_times():
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as connection:
            return connection.execute(TIMES_SQL).fetchone()

    def read_rows():
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as connection:
            return connection.execute(ROWS_SQL).fetchall()

    try:
        return measure(site, jobs, workers, read_times, read_rows)
    finally:
        drop_postgres_database(name)


def report(name: str, figures: dict) -> None:
    hold, gap = figures["hold_gap"]
    cores = os.cpu_count() or 1
    print(f"{name}: {figures['rate']:6.2f} jobs/s ({figures['steady']:.2f} after each worker's "
          "first job)")
    print(f"{name}: a worker holds a job {hold:.1f} ms (median) and waits {gap:.1f} ms for its next")
    if figures["cpu"] is None:
        print(f"{name}: the machine's CPU per job not measured (too few jobs)")
        return
    busy, stolen = figures["cpu"]
    print(f"{name}: the machine's CPU per job {busy * 1000:.1f} ms (all processes, the last "
          f"three quarters of the jobs), so at most {cores / max(busy, 1e-6):.1f} jobs/s on "
          f"{cores} cores; stolen by the host {stolen * 1000:.1f} ms a job")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=80, help="a multiple of 8 (the Ar models)")
    parser.add_argument("--workers", type=int, default=2, help="the issue's figure is with 2")
    args = parser.parse_args()
    # The real run_pair and KIM API: each job renders its template and starts its runner.
    print(f"no-op test, 1 cluster x {args.workers} workers, {args.jobs} jobs")
    print(f"machine speed before: a fixed Python loop {machine_speed_ms():.0f} ms")
    orm = sqlite_orm(args.jobs, args.workers)
    report("SQLite + ORM broker", orm)
    redis = postgres_redis(args.jobs, args.workers)
    print(f"machine speed after: a fixed Python loop {machine_speed_ms():.0f} ms")
    if redis is not None:
        report("PostgreSQL + Redis", redis)
        print(f"ratio PostgreSQL+Redis / SQLite+ORM: {redis['rate'] / orm['rate']:.2f}")


if __name__ == "__main__":
    main()
