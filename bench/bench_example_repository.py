"""The whole example repository through the queue with N workers, against the same pairs run
one after another as plain processes (the baseline), in one run.

Run: ``.venv/bin/python bench/bench_example_repository.py [--workers 2] [--models-per-test K]``.
Sets up Django on SQLite in a temporary folder, registers the KIM API's models, imports
``examples/repository`` and queues every matching pair (``submit --all``). The pipeline's time
is ``runpending`` from the first job to the last. The baseline then runs every pair whose test
process ran and ended by itself (results, and errors such as a nonzero exit) again, in the order the
pipeline finished them (upstream before downstream), as a plain process: the test's executable
on the input the pipeline rendered, in a fresh copy of the test folder. It also prints the floor
no pipeline can beat with these workers, the test processes' own time (as the pipeline recorded
it) divided by the workers, and the longest pairs, which bound a run's end.
``--models-per-test K`` keeps K models per test (by name) and ``--species Ar`` only the tests
of one species, for a quicker, partial run; ``--pipeline-only`` stops after the pipeline's run
and where its own share of the workers' time went (no baseline, so no ratio).
"""

import argparse
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchsetup import PROJECT, scratch_folder, setup_django


def print_share(pipeline: float, workers: int) -> None:
    """Where the pipeline's own share of the workers' time went: inside jobs (claim to
    completion, less the test process), and outside them (waits for upstream results, the
    end-of-run tail, run_pending's own work); the runners whose jobs cost the most."""
    from repository.models import Error, TestResult, VerificationResult
    from runner.models import Job

    runtimes = {kim_id: runtime for table in (TestResult, VerificationResult, Error)
                for kim_id, runtime in table.objects.values_list("kim_id", "runtime")}
    by_runner: dict[str, list[float]] = {}
    busy = process = 0.0
    for runner, outcome, started, finished in Job.objects.filter(state=Job.State.DONE) \
            .values_list("runner_kim_id", "outcome_kim_id", "started_at", "finished_at"):
        held = (finished - started).total_seconds()
        ran = runtimes.get(outcome) or 0.0
        busy, process = busy + held, process + ran
        by_runner.setdefault(runner.split("__")[0], []).append(held - ran)
    jobs = sum(len(costs) for costs in by_runner.values())
    print(f"workers' time {workers * pipeline:.1f} s: test processes {process:.1f} s, the "
          f"pipeline inside jobs {busy - process:.1f} s ({(busy - process) / max(jobs, 1) * 1000:.0f}"
          f" ms a job), outside jobs {workers * pipeline - busy:.1f} s (upstream waits, the tail, "
          "run_pending)")
    costly = sorted(by_runner.items(), key=lambda item: -sum(item[1]))[:5]
    print("most pipeline time inside jobs: " + "; ".join(
        f"{name} {sum(costs):.1f} s over {len(costs)} jobs" for name, costs in costly))


def keep_models_per_test(limit: int) -> None:
    """Delete all models but the first ``limit`` (by name) that each test matches."""
    from repository import matching
    from repository.models import Model, Test

    keep = set()
    for test in Test.objects.all():
        keep |= {m.pk for m in sorted(matching.matching_models(test, authoritative=False),
                                      key=lambda m: m.kim_id)[:limit]}
    Model.objects.exclude(pk__in=keep).delete()


def keep_tests_of(symbol: str) -> None:
    """Delete every test whose species are not exactly ``[symbol]`` (upstream tests share them)."""
    from repository.models import Test

    Test.objects.exclude(pk__in=[t.pk for t in Test.objects.all() if t.species == [symbol]]).delete()


def ran(outcome) -> bool:
    """Whether the pipeline started the pair's test process and it ended by itself (its rendered
    input was kept): a plain run of a timed-out or limit-stopped pair would run unbounded."""
    from kimsite import config
    from repository.models import Error

    ended = (Error.Category.NONZERO_EXIT, Error.Category.NO_RESULTS, Error.Category.INVALID_RESULTS)
    return (outcome.runtime is not None and (Path(outcome.path) / config.STDIN_FILE).is_file()
            and (not isinstance(outcome, Error) or outcome.category in ended))


def plain_run(outcome, scratch: Path, env: dict) -> float:
    """Run one pair's executable directly on the input the pipeline rendered; wall seconds.
    A pair the pipeline kept as an Error may fail here too; one that gave a result may not."""
    from kimsite import config
    from repository.models import Error
    from runner.build import executable_name

    test = outcome.runner
    folder = Path(tempfile.mkdtemp(dir=scratch))
    shutil.copytree(test.path, folder, dirs_exist_ok=True)
    (folder / "output").mkdir(exist_ok=True)
    stdin = (Path(outcome.path) / config.STDIN_FILE).read_bytes()
    started = time.perf_counter()
    done = subprocess.run([str(folder / executable_name(test))], input=stdin, cwd=folder, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    shutil.rmtree(folder, ignore_errors=True)
    if done.returncode != 0 and not isinstance(outcome, Error):
        raise SystemExit(f"plain run of {test.kim_id} × {outcome.model.kim_id} failed "
                         f"({done.returncode}) although the pipeline's succeeded")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models-per-test", type=int, default=0, help="0: every matching model")
    parser.add_argument("--species", default="",
                        help="keep only the tests of this one species (default: all tests)")
    parser.add_argument("--pipeline-only", action="store_true",
                        help="the pipeline's run and where its own share went, no baseline "
                             "(and so no ratio)")
    args = parser.parse_args()
    scratch = scratch_folder("bench-examples-")
    try:
        setup_django(scratch)
        from django.conf import settings

        from repository.importer import import_repository
        from repository.installed import register_installed_items
        from repository.models import Error, TestResult, VerificationResult
        from runner import director, execute, install, jobs

        register_installed_items()
        import_repository(PROJECT / "examples" / "repository")
        install.install_sources()
        if args.species:
            keep_tests_of(args.species)
        if args.models_per_test:
            keep_models_per_test(args.models_per_test)
        report = director.submit_all(dispatch=False)
        print(f"jobs: {len(report.jobs)} ({report.queued} queued, {report.waiting} waiting)")

        started = time.perf_counter()
        summary = jobs.run_pending(workers=args.workers, progress=True)
        pipeline = time.perf_counter() - started
        print("outcomes:", dict(Counter({k: v for k, v in summary.items() if v})))
        print_share(pipeline, args.workers)
        if args.pipeline_only:
            return

        env = execute.subprocess_environment()
        outcomes = [o for o in (*TestResult.objects.select_related("test", "model"),
                                *VerificationResult.objects.select_related("verification_check",
                                                                           "model"),
                                *Error.objects.select_related("test", "verification_check",
                                                              "model")) if ran(o)]
        outcomes.sort(key=lambda o: o.created_at)
        floor = sum(o.runtime for o in outcomes) / args.workers
        # Each plain run reads the input the pipeline rendered, so none waits for another: the
        # same pairs as plain processes, as many at a time as the pipeline had workers.
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            baseline = sum(pool.map(lambda o: plain_run(o, scratch, env), outcomes))
        parallel = time.perf_counter() - started

        print(f"pairs whose test process ran: {len(outcomes)} "
              f"({sum(isinstance(o, Error) for o in outcomes)} of them errors)")
        print("longest test processes in the pipeline: " + "; ".join(
            f"{o.runner.kim_id.split('__')[0]} × {o.model.kim_id.split('__')[0]} {o.runtime:.1f} s"
            for o in sorted(outcomes, key=lambda o: -o.runtime)[:5]))
        print(f"pipeline, runpending with {args.workers} workers: {pipeline:8.1f} s "
              f"(PIPELINE_PREWARM={settings.PIPELINE_PREWARM})")
        print(f"baseline, the same pairs as plain processes, {args.workers} at a time: {parallel:8.1f} s")
        print(f"baseline, the sum of their times (one after another): {baseline:8.1f} s")
        print(f"floor, the pipeline's test processes / {args.workers} workers: {floor:8.1f} s")
        print(f"ratio pipeline/plain {args.workers} at a time: {pipeline / parallel:.2f}")
        print(f"ratio floor/plain {args.workers} at a time (the best any pipeline of these "
              f"processes could do): {floor / parallel:.2f}")
        print(f"speed-up baseline/pipeline: {baseline / pipeline:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
