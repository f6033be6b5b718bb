"""Jobs per second through a real ``manage.py qcluster`` with 2 workers, for a no-op test.

Two brokers measured in the same run: SQLite + the ORM broker (the default configuration) and
PostgreSQL + Redis (skipped, and said so, when either server does not answer).
Run: ``DEBUG=1 .venv/bin/python bench/bench_queue.py [--jobs 80]``.

The rate is jobs / (last finish - first start), read from the Job rows, so cluster start-up is
not counted. The no-op test still starts a process per run, as every real test does.
"""

import argparse
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def measure(site: PipelineSite, jobs: int, read_times) -> float:
    models = 8
    site.manage("migrate", "--noinput")
    site.scenario("setup", "--tests", str(-(-jobs // models)), "--models", str(models))
    cluster = site.start_cluster("bench")
    try:
        site.scenario("submit")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done, first, last = read_times()
            if done >= jobs:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"only {done} of {jobs} jobs done\n{site.cluster_output()}")
    finally:
        site.kill(cluster)
    from datetime import datetime

    def parse(value):
        return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))

    return done / (parse(last) - parse(first)).total_seconds()


def sqlite_orm(jobs: int) -> float:
    site = PipelineSite(Path(tempfile.mkdtemp(prefix="bench-queue-sqlite-")),
                        job_timeout=300, retry=420)

    def read_times():
        with sqlite3.connect(site.sqlite_file, timeout=30) as connection:
            return connection.execute(TIMES_SQL).fetchone()

    return measure(site, jobs, read_times)


def postgres_redis(jobs: int) -> float | None:
    reason = postgres_unreachable() or redis_unreachable()
    if reason:
        print(f"PostgreSQL + Redis: not measured ({reason})")
        return None
    import psycopg

    name = f"kimpipe_bench_{uuid.uuid4().hex[:8]}"
    postgres_admin(f'CREATE DATABASE "{name}"')
    site = PipelineSite(Path(tempfile.mkdtemp(prefix="bench-queue-pg-")),
                        job_timeout=300, retry=420,
                        database=f"postgres://postgres@127.0.0.1:5432/{name}", redis=redis_url())

    def read_times():
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as connection:
            return connection.execute(TIMES_SQL).fetchone()

    try:
        return measure(site, jobs, read_times)
    finally:
        drop_postgres_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=80, help="a multiple of 8 (the Ar models)")
    args = parser.parse_args()
    # The real run_pair and KIM API: each job renders its template and starts its runner.
    print(f"no-op test, 1 cluster x 2 workers, {args.jobs} jobs")
    orm = sqlite_orm(args.jobs)
    print(f"SQLite + ORM broker:  {orm:6.2f} jobs/s")
    redis = postgres_redis(args.jobs)
    if redis is not None:
        print(f"PostgreSQL + Redis:   {redis:6.2f} jobs/s")
        print(f"ratio PostgreSQL+Redis / SQLite+ORM: {redis / orm:.2f}")


if __name__ == "__main__":
    main()
