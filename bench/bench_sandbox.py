"""The sandbox's cost per job: run_pair on one real pair sandboxed and with PIPELINE_SANDBOX=off.

Run: ``.venv/bin/python bench/bench_sandbox.py [--repeats N]``. Sets up Django on SQLite in a
temporary KIM_DIR, imports the runner tests' 2020 lattice-constant test and runs it on the
installed EAM Al model, alternating sandboxed and unsandboxed runs (the baseline, measured in
the same run); also the bare cost of the wrapper: ``true`` under bwrap against ``true``.
"""

import argparse
import shutil
import statistics
import subprocess
import time

from benchsetup import scratch_folder, setup_django


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    scratch = scratch_folder("bench-sandbox-")
    try:
        setup_django(scratch)
        from django.conf import settings

        from repository.models import TestResult
        from runner import execute, sandbox
        from tests.fixtures.runner.cast import LATTICE_2020, import_fixture, installed_model

        model = installed_model()
        test = import_fixture("te", LATTICE_2020)

        def run(mode: str) -> None:
            settings.PIPELINE_SANDBOX = mode
            outcome = execute.run_pair(test, model)
            assert isinstance(outcome, TestResult), getattr(outcome, "message", outcome)

        run("on"), run("off")  # warm-up: the KIM API's verdict, the file cache
        on, off, bare_on, bare_off = [], [], [], []
        box = sandbox.Sandbox(scratch=scratch)
        for _ in range(args.repeats):
            off.append(timed(lambda: run("off")))
            on.append(timed(lambda: run("on")))
            settings.PIPELINE_SANDBOX = "on"
            wrapped = box.command(["/bin/true"])
            bare_on.append(timed(lambda argv=wrapped: subprocess.run(argv, check=True)))
            bare_off.append(timed(lambda: subprocess.run(["/bin/true"], check=True)))
        m_on, m_off = statistics.median(on), statistics.median(off)
        print(f"pair: {test.kim_id} × {model.kim_id}, {args.repeats} repeats")
        print(f"sandbox off : median {m_off:.3f} s  (min {min(off):.3f}, max {max(off):.3f})")
        print(f"sandbox on  : median {m_on:.3f} s  (min {min(on):.3f}, max {max(on):.3f})")
        print(f"bwrap true  : median {statistics.median(bare_on) * 1000:.1f} ms against "
              f"{statistics.median(bare_off) * 1000:.1f} ms bare")
        print(f"cost        : {m_on - m_off:+.3f} s per job; ratio sandboxed/off = {m_on / m_off:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
