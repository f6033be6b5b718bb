"""The pipeline's overhead on one real pair: run_pair's wall time minus the runner's own.

Run: ``.venv/bin/python bench/bench_runpair.py [--repeats N]``. Sets up Django on SQLite in a
temporary KIM_DIR, imports the runner tests' 2020 lattice-constant test and runs it on the
installed EAM Al model: each repeat runs the same executable once directly (same rendered input,
same environment, a prepared folder) and once through run_pair (match, render, scratch copy,
run, validate, write tr/ and the rows).
"""

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchsetup import scratch_folder, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    scratch = scratch_folder("bench-runpair-")
    try:
        setup_django(scratch)
        from repository.models import TestResult
        from runner import execute
        from runner.template import render_input
        from tests.fixtures.runner.cast import LATTICE_2020, import_fixture, installed_model

        model = installed_model()
        test = import_fixture("te", LATTICE_2020)
        rendered = render_input(test, model).text
        env = execute.subprocess_environment()

        # Warm-up: caches the KIM API's match verdict and the OS's file cache for both paths.
        assert isinstance(execute.run_pair(test, model), TestResult)

        direct, piped = [], []
        for _ in range(args.repeats):
            folder = Path(tempfile.mkdtemp(dir=scratch))
            shutil.copytree(test.path, folder, dirs_exist_ok=True)
            (folder / "output").mkdir(exist_ok=True)
            started = time.perf_counter()
            done = subprocess.run([str(folder / "runner")], input=rendered.encode(), cwd=folder, env=env,
                                  capture_output=True)
            direct.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stderr.decode()[-2000:]

            started = time.perf_counter()
            outcome = execute.run_pair(test, model)
            piped.append(time.perf_counter() - started)
            assert isinstance(outcome, TestResult), outcome

        d, p = statistics.median(direct), statistics.median(piped)
        print(f"pair: {test.kim_id} × {model.kim_id}, {args.repeats} repeats")
        print(f"direct run  : median {d:.3f} s  (min {min(direct):.3f}, max {max(direct):.3f})")
        print(f"run_pair    : median {p:.3f} s  (min {min(piped):.3f}, max {max(piped):.3f})")
        print(f"overhead    : {p - d:.3f} s per pair; ratio run_pair/direct = {p / d:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
