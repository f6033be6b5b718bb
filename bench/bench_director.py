"""How long the director takes to decide the jobs of one new item against 10,000 candidates.

Run: ``DEBUG=1 .venv/bin/python bench/bench_director.py [--candidates N]`` (SQLite file in a
temporary KIM_DIR; set DATABASE_URL for PostgreSQL — a scratch database, it is written to).
Prints the bulk decision's time and the ratio against a naive per-pair baseline (one existence
query per table and one INSERT per pair) measured in the same run on the same data.
Matching is not timed: the candidates are given, as ``matching_models`` would give them.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.benchsetup import scratch_folder  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kimsite.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ["KIM_DIR"] = str(scratch_folder("bench-director-"))
    os.environ.setdefault("KIM_LOG_DIR", os.environ["KIM_DIR"] + "/logs")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from repository.models import Error, Model, Test, TestResult  # noqa: E402
from runner import director  # noqa: E402
from runner.director import decide  # noqa: E402
from runner.models import Job  # noqa: E402


def cast(candidates: int, with_results: int) -> tuple[Test, list[Model]]:
    Job.objects.all().delete()
    TestResult.objects.all().delete()
    Error.objects.all().delete()
    Model.objects.filter(kim_id__startswith="BenchModel").delete()
    Test.objects.filter(kim_id__startswith="BenchTest").delete()
    test = Test.objects.create(kim_id="BenchTest_Ar__TE_990000000001_000", species=["Ar"])
    models = Model.objects.bulk_create(
        Model(kim_id=f"BenchModel{i}_Ar__MO_{i:012d}_000", name=f"BenchModel{i}_Ar", leader="MO",
              number=f"{i:012d}", version=0, species=["Ar"]) for i in range(1, candidates + 1))
    TestResult.objects.bulk_create(
        TestResult(kim_id=f"TR_{i:012d}_000", test=test, model=m, runner_number=test.number,
                   runner_version=0, subject_number=m.number, subject_version=0,
                   created_at="2026-01-01T00:00:00Z")
        for i, m in enumerate(models[:with_results], 1))
    return test, models


def bulk(test, models) -> tuple[float, int]:
    Job.objects.all().delete()
    start = time.perf_counter()
    report = director.submit_pairs([(test, m) for m in models], dispatch=False)
    return time.perf_counter() - start, len(report.jobs)


def decision_only(test, models) -> float:
    """The deciding alone (queries and planning, no INSERT), to show where the time goes."""
    Job.objects.all().delete()
    start = time.perf_counter()
    decide._plan_pairs(decide._Plan(), [(test, m) for m in models],
                         priority=Job.Priority.NORMAL, force=False, reason="bench")
    return time.perf_counter() - start


def naive(test, models) -> tuple[float, int]:
    """One pair at a time, as the 2012 director did: ask, then insert."""
    Job.objects.all().delete()
    made = 0
    start = time.perf_counter()
    with transaction.atomic():
        for model in models:
            current = (TestResult.objects.filter(test=test, model=model, stale=False).exists()
                       or Error.objects.filter(test=test, model=model, stale=False).exists())
            live = Job.objects.active().for_pair(test.kim_id, model.kim_id).exists()
            if not current and not live:
                Job.objects.create(runner_kim_id=test.kim_id, subject_kim_id=model.kim_id)
                made += 1
    return time.perf_counter() - start, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--with-results", type=int, default=2_000,
                        help="candidates that already have a current result")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    test, models = cast(args.candidates, args.with_results)
    bulk_times = []
    for _ in range(args.repeat):
        seconds, made = bulk(test, models)
        bulk_times.append(seconds)
    deciding = min(decision_only(test, models) for _ in range(args.repeat))
    naive_seconds, naive_made = naive(test, models)
    assert made == naive_made == args.candidates - args.with_results, (made, naive_made)
    best = min(bulk_times)
    vendor = django.db.connection.vendor
    print(f"director on {vendor}: one new test against {args.candidates} candidate models "
          f"({args.with_results} with a current result) -> {made} jobs")
    print(f"  bulk decision + bulk_create: {best:.3f} s (best of {args.repeat}: "
          f"{', '.join(f'{t:.3f}' for t in bulk_times)})")
    print(f"  of which deciding (no INSERT): {deciding:.3f} s")
    print(f"  naive per-pair baseline:     {naive_seconds:.3f} s")
    print(f"  ratio naive/bulk:            {naive_seconds / best:.1f}x")


if __name__ == "__main__":
    main()
