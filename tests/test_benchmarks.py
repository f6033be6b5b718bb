"""Every benchmark in bench/ runs, at its smallest size, so none can rot unnoticed.

The figures are not judged here (speed is measured by the benchmarks themselves, on a quiet
machine, and recorded in docs/BENCHMARKS.md); what is judged is that each one still runs to
its end and prints its comparison against the baseline it measures in the same run.
"""

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent

#: bench file → (its smallest arguments, a line every complete run prints).
SMALLEST = {
    "bench_director.py": (["--candidates", "100", "--with-results", "20", "--repeat", "1"],
                          "ratio naive/bulk"),
    "bench_matching.py": (["--tests", "100", "--repeat", "1"], "baseline: one ORM query per pair"),
    "bench_runpair.py": (["--repeats", "1"], "ratio run_pair/direct"),
    "bench_overhead.py": (["--jobs", "8", "--phases", "--queries"], "ratio overhead/target"),
    "bench_sandbox.py": (["--repeats", "1"], "ratio sandboxed/off"),
    "bench_cgroup_join.py": (["--runs", "2", "--gap-ms", "5"], "ratio joined/not joined"),
    "bench_queue.py": (["--jobs", "8"], "ratio PostgreSQL+Redis / SQLite+ORM"),
    "bench_example_repository.py": (["--models-per-test", "1", "--species", "Ar"],
                                    "speed-up baseline/pipeline"),
    "bench_site.py": (["--models", "6", "--tests", "8", "--baseline-models", "3",
                       "--baseline-tests", "4", "--repeat", "1"], "ratio full/baseline"),
    "bench_query.py": (["--instances", "1000", "--repeat", "1"], "ratio naive/indexed"),
    "bench_worker_memory.py": (["--jobs", "24", "--early", "8"], "ratio growth/budget"),
    "bench_current.py": (["--pairs", "6", "--repeat", "1"], "ratio compiled/built"),
    "bench_checks.py": (["--models", "2", "--match", "LJ_Shifted_Bernardes_1958LowCutoff",
                         "--workers", "2"],
                        "ratio checks/floor"),
}

pytestmark = pytest.mark.slow


def test_every_benchmark_is_listed_here():
    found = {path.name for path in (PROJECT / "bench").glob("bench_*.py")}
    assert found == set(SMALLEST), "a benchmark without its smallest size here would rot unseen"


@pytest.mark.parametrize("name", sorted(SMALLEST))
def test_the_benchmark_runs_at_its_smallest_size(name, tmp_path):
    arguments, last_words = SMALLEST[name]
    done = subprocess.run([sys.executable, str(PROJECT / "bench" / name), *arguments],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert last_words in done.stdout, done.stdout[-2000:]
