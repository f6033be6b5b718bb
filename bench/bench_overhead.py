"""The pipeline's own overhead per job: a worker's time for a whole job minus its test process's.

Run: ``.venv/bin/python bench/bench_overhead.py [--jobs 200] [--profile FILE] [--phases]
[--queries]`` (``--phases``: also the wall time per job in each main step, timed around the
call; ``--queries``: also each SQL statement of one job, the last, with its time:
by then PostgreSQL runs its prepared statements with their generic plans).

For each database (SQLite, then PostgreSQL at 127.0.0.1:5432, skipped and said so when it does
not answer) a child process sets up Django in a temporary KIM_DIR with DEBUG off, makes the
installed argon models and no-op tests (``tests/fixtures/pipeline/runner.sh.tpl``: a shell
runner that writes a valid results.edn), submits their jobs and runs each one as a queue worker
does (``runner.jobs.run_job``: claim, match verdict, scratch copy, render, spawn, read,
validate, write the folder, record, release dependents). Per job: the wall time of
``run_job`` minus the test process's own wall time (the runtime the pipeline records, from
spawn to exit). Median and p90 over the jobs, the first one (a worker's start-up: cleanup of
dead owners, caches) left out. Also the worker process's own CPU time per job (median): on a
shared virtual machine it varies less from run to run than wall time does.

The baselines, measured in the same run: the target (20 ms), and the bare spawn of the same
runner script with ``subprocess.run`` (no sandbox, no pipeline).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import nullcontext
from pathlib import Path

from benchsetup import machine_speed_ms, scratch_folder

PROJECT = Path(__file__).resolve().parent.parent
TARGET_MS = 20.0
MODELS = 8  # the installed argon models (tests.factories.AR_MODELS)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def bare_spawn_ms(runner: Path, model: str, repeats: int) -> float:
    """Median wall time of the no-op runner started directly, as a plain process."""
    folder = scratch_folder("bench-overhead-bare-")
    try:
        shutil.copytree(runner.parent, folder, dirs_exist_ok=True)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([str(folder / "runner")], input=f"{model}\n".encode(), cwd=folder,
                           capture_output=True, check=True)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


#: What ``--phases`` times around each call: (module, attribute, label); each ms per job.
PHASES = [
    ("runner.processes", "run_process", "the runner's process, spawn to reaping"),
    ("runner.results", "record_result", "recording the result (files, rows, documents)"),
    ("queryapi.sync", "write_outcome", "  its query documents"),
    ("runner.provenance", "worker_environment", "  the worker's environment row"),
    ("runner.results", "_write_common", "  its files"),
    ("runner.jobs", "complete", "completing the job (supersede, release, stale downstream)"),
    ("runner.pairs", "supersede", "  supersede"),
    ("runner.jobs", "claim", "claim"),
    ("runner.jobs", "_pair_of", "the job's runner and model rows"),
    ("runner.reading", "property_definitions", "property definitions for validation"),
    ("runner.execute", "_make_scratch", "the scratch copy"),
    ("runner.template", "missing_upstream", "the missing-upstream check"),
    ("runner.template", "render_input", "render"),
    ("runner.director", "check_dependency_graph", "the dependency graph check"),
    ("runner.execute", "match", "the match verdict"),
    ("runner.leases", "extend_lease", "lease renewals"),
    ("django.db.backends.utils", "CursorWrapper._execute", "SQL execute (all queries)"),
]


def time_phases():
    """Wrap each PHASES call to add up its wall time; returns (totals, calls) counters."""
    import functools
    import importlib
    from collections import Counter

    totals, calls = Counter(), Counter()
    for module_name, attribute, label in PHASES:
        owner = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)

        def timed(*args, _original=original, _label=label, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                totals[_label] += time.perf_counter() - started
                calls[_label] += 1

        setattr(owner, name, functools.wraps(original)(timed))
    return totals, calls


class QueryLog:
    """A connection execute wrapper that keeps (milliseconds, the SQL on one line, cut at 160
    characters) of each statement while on."""

    def __init__(self):
        self.on, self.statements = False, []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if self.on:
                self.statements.append(((time.perf_counter() - started) * 1000,
                                        " ".join(sql.split())[:160]))


def measure(jobs: int, profile: Path | None, phases: bool = False,
            queries: bool = False) -> dict:
    """In the child: make the items, submit, run every job as a worker does; the figures."""
    from benchsetup import setup_django

    scratch = Path(os.environ["KIM_DIR"])
    setup_django(scratch, database_url=os.environ.get("DATABASE_URL") or None)
    from django.db import connection

    from repository import storage
    from repository.models import Test, TestResult
    from runner import director, execute
    from runner import jobs as job_runs
    from runner.models import Job
    from tests import factories

    factories.ar_models(MODELS)
    tests = -(-(jobs + 1) // MODELS)  # one more job than asked: the first is the warm-up
    root = storage.repository_root()
    for number in range(tests):
        factories.make_test(f"NoOp{number}_Ar", 500 + number, root=root)
    for test in Test.objects.order_by("number"):
        director.on_item_changed(test, dispatch=False)
    queued = list(Job.objects.next_up().values_list("pk", flat=True))
    # As a queue worker's does at its spawn, the warm server starts (and finishes its seconds of
    # imports) before the jobs: else it takes one of the two cores from the first hundred jobs.
    server = execute.start_warm_server()
    if server is not None:
        server.wait_ready()

    phase_time = phase_calls = None
    if phases:
        phase_time, phase_calls = time_phases()
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
    query_log = QueryLog()
    overheads, runtimes, totals, cpus = [], [], [], []
    for number, job_id in enumerate(queued[: jobs + 1]):
        if profiler is not None and number == 1:
            profiler.enable()
        query_log.on = queries and number == jobs
        started, cpu_started = time.perf_counter(), time.process_time()
        # Wrapped only when asked: the wrapper's own time would count in every job's overhead.
        with connection.execute_wrapper(query_log) if queries else nullcontext():
            status = job_runs.run_job(job_id)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        query_log.on = False
        if status != "done":
            raise RuntimeError(f"job {job_id} ended {status}")
        outcome = Job.objects.get(pk=job_id).outcome_kim_id
        runtime = TestResult.objects.get(kim_id=outcome).runtime
        if number == 0:
            if phase_time is not None:
                phase_time.clear()
                phase_calls.clear()
            continue  # a worker's first job: cleanup of dead owners, caches filled
        totals.append(elapsed * 1000)
        runtimes.append(runtime * 1000)
        overheads.append((elapsed - runtime) * 1000)
        cpus.append(cpu * 1000)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    runner = root / "te" / Test.objects.order_by("number").first().kim_id / "runner"
    return {
        "vendor": connection.vendor, "jobs": len(overheads),
        "overhead_median": statistics.median(overheads), "overhead_p90": percentile(overheads, 0.9),
        "process_median": statistics.median(runtimes), "job_median": statistics.median(totals),
        "worker_cpu_median": statistics.median(cpus),
        "bare_spawn": bare_spawn_ms(runner, factories.AR_MODELS[0], 50),
        "phases": [(label, phase_time[label] * 1000 / len(overheads),
                    phase_calls[label] / len(overheads))
                   for _, _, label in PHASES] if phase_time is not None else [],
        "queries": query_log.statements,
    }


def child(database: str | None, jobs: int, profile: Path | None, phases: bool = False,
          queries: bool = False) -> dict:
    """Run ``measure`` in a fresh process (Django is set up once per process) and read its figures."""
    scratch = scratch_folder("bench-overhead-")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"KIM_DIR": str(scratch), "KIM_REPOSITORY_DIR": str(scratch / "repository"),
                "DEBUG": "0", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(PROJECT)})
    if database:
        env["DATABASE_URL"] = database
    command = [sys.executable, __file__, "--child", "--jobs", str(jobs)]
    if profile is not None:
        command += ["--profile", str(profile)]
    if phases:
        command.append("--phases")
    if queries:
        command.append("--queries")
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                              cwd=PROJECT)
        if done.returncode:
            raise RuntimeError(f"the measuring process failed:\n{done.stdout[-3000:]}\n"
                               f"{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def report(name: str, figures: dict) -> None:
    print(f"{name}: {figures['jobs']} jobs; per job {figures['job_median']:.1f} ms, of which the "
          f"test process {figures['process_median']:.1f} ms")
    print(f"{name}: overhead median {figures['overhead_median']:.1f} ms, "
          f"p90 {figures['overhead_p90']:.1f} ms; bare spawn of the runner "
          f"{figures['bare_spawn']:.1f} ms; the worker's own CPU time per job "
          f"{figures['worker_cpu_median']:.1f} ms")
    for label, milliseconds, calls in figures["phases"]:
        print(f"{name}:   {milliseconds:6.2f} ms a job ({calls:4.1f} calls)  {label}")
    if figures["queries"]:
        print(f"{name}: the SQL of one job, {len(figures['queries'])} statements, "
              f"{sum(ms for ms, _ in figures['queries']):.1f} ms:")
    for milliseconds, sql in figures["queries"]:
        print(f"{name}:   {milliseconds:5.2f} ms  {sql}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--profile", type=Path,
                        help="write cProfile stats of the measured jobs to FILE (suffixed by database)")
    parser.add_argument("--phases", action="store_true",
                        help="also the wall time per job spent in each main step (PHASES)")
    parser.add_argument("--queries", action="store_true",
                        help="also each SQL statement of one job (the last) with its time")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.jobs, args.profile, args.phases, args.queries)))
        return

    sys.path.insert(0, str(PROJECT))
    from tests.fixtures.pipeline.site import (
        drop_postgres_database,
        postgres_admin,
        postgres_unreachable,
    )

    def profile_for(name: str) -> Path | None:
        if not args.profile:
            return None
        # The measuring process runs in its own folder: hand it an absolute path.
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        return args.profile.resolve().with_suffix(f".{name}.prof")

    print(f"machine speed before: a fixed Python loop {machine_speed_ms():.0f} ms")
    sqlite = child(None, args.jobs, profile_for("sqlite"), args.phases, args.queries)
    report("SQLite", sqlite)
    worst = sqlite["overhead_median"]
    reason = postgres_unreachable()
    if reason:
        print(f"PostgreSQL: not measured ({reason})")
    else:
        name = f"kimpipe_bench_overhead_{uuid.uuid4().hex[:8]}"
        postgres_admin(f'CREATE DATABASE "{name}"')
        try:
            postgres = child(f"postgres://postgres@127.0.0.1:5432/{name}", args.jobs,
                             profile_for("postgres"), args.phases, args.queries)
        finally:
            drop_postgres_database(name)
        report("PostgreSQL", postgres)
        worst = max(worst, postgres["overhead_median"])
    print(f"machine speed after: a fixed Python loop {machine_speed_ms():.0f} ms")
    print(f"ratio overhead/bare-spawn (SQLite): {sqlite['overhead_median'] / sqlite['bare_spawn']:.2f}")
    print(f"ratio overhead/target ({TARGET_MS:.0f} ms, worst database): {worst / TARGET_MS:.2f}")


if __name__ == "__main__":
    main()
