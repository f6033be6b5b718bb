"""Resident memory of a worker and of its warm server after many jobs, against after a few.

Run: ``.venv/bin/python bench/bench_worker_memory.py [--jobs 2000] [--early 20]``.

Sets up Django on SQLite in a temporary folder, makes the installed argon models and tests
whose ``runner`` is a Python script (so each job forks from the warm server), and runs every
job in this process as a queue worker does (``runner.jobs.run_job``). Reads VmRSS of this
process and of the warm server after ``--early`` jobs (the baseline) and after ``--jobs``;
the budget for the growth is 20 MB.
"""

import argparse
import shutil
import sys
import time
from pathlib import Path

from benchsetup import scratch_folder, setup_django

BUDGET_MB = 20.0
MODELS = 8
RUNNER = '''#!/usr/bin/env python3
"""A no-op Python test: reads the model name, writes one valid property instance."""
import os
import sys

import kim_edn
import numpy

model = sys.stdin.readline().strip()
os.makedirs("output", exist_ok=True)
instance = {
    "property-id": "tag:staff@noreply.openkim.org,2014-04-15:property/cohesive-potential-energy-cubic-crystal",
    "instance-id": 1,
    "short-name": {"source-value": ["fcc"]},
    "species": {"source-value": ["Ar"]},
    "a": {"source-value": float(numpy.float64(5.26)), "source-unit": "angstrom"},
    "basis-atom-coordinates": {"source-value": [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]},
    "cohesive-potential-energy": {"source-value": 0.08, "source-unit": "eV"},
}
with open("output/results.edn", "w") as handle:
    handle.write(kim_edn.dumps([instance]))
'''


def rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--early", type=int, default=20)
    args = parser.parse_args()
    scratch = scratch_folder("bench-memory-")
    try:
        setup_django(scratch)
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from repository import storage
        from repository.models import Test, TestResult
        from runner import director
        from runner import jobs as job_runs
        from runner.models import Job
        from tests import factories
        from tests.fixtures.runner.warm import ready_warm_server

        factories.ar_models(MODELS)
        root = storage.repository_root()
        for number in range(-(-args.jobs // MODELS)):
            test = factories.make_test(f"NoOpPython{number}_Ar", 700 + number, root=root)
            runner = root / "te" / test.kim_id / "runner"
            runner.write_text(RUNNER)
            runner.chmod(0o755)
        for test in Test.objects.order_by("number"):
            director.on_item_changed(test, dispatch=False)
        queued = list(Job.objects.next_up().values_list("pk", flat=True))[: args.jobs]
        server = ready_warm_server(scratch / "home")

        started, early = time.perf_counter(), None
        for number, job_id in enumerate(queued, start=1):
            status = job_runs.run_job(job_id)
            if status != "done":
                raise SystemExit(f"job {job_id} ended {status}")
            if number == args.early:
                early = (rss_kib(), rss_kib(server.process.pid))
        late = (rss_kib(), rss_kib(server.process.pid))
        elapsed = time.perf_counter() - started
        # A fork of the warm server peaks at its size (~170 MB); a fresh interpreter that
        # imports numpy and kim_edn at about 40 MB: the memmax the pipeline recorded tells them.
        forked = TestResult.objects.filter(memmax__gt=rss_kib(server.process.pid) // 2).count()
        print(f"runs forked from the warm server: {forked} of {len(queued)}")
        growth = [(after - before) / 1024 for before, after in zip(early, late, strict=True)]
        print(f"jobs: {len(queued)} in {elapsed:.1f} s ({len(queued) / elapsed:.1f} jobs/s, one worker)")
        print(f"worker RSS: {early[0] / 1024:.1f} MB after {args.early} jobs, "
              f"{late[0] / 1024:.1f} MB after {len(queued)}: growth {growth[0]:+.1f} MB")
        print(f"warm server RSS: {early[1] / 1024:.1f} MB after {args.early} jobs, "
              f"{late[1] / 1024:.1f} MB after {len(queued)}: growth {growth[1]:+.1f} MB")
        print(f"ratio growth/budget ({BUDGET_MB:.0f} MB, worst process): {max(growth) / BUDGET_MB:.2f}")
    finally:
        from runner import warm

        warm.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
